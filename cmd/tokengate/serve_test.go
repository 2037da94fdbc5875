package main

import (
	"bytes"
	"strings"
	"testing"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// Envoy health-checks its ext_proc cluster over gRPC on the ext_proc port.
func TestHealthServiceOnTheExtProcPort(t *testing.T) {
	s := startStack(t, nil)
	conn, err := grpc.NewClient(loopback(s.app.grpcLn.Addr()), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, service := range []string{"", extprocv3.ExternalProcessor_ServiceDesc.ServiceName} {
		resp, err := healthpb.NewHealthClient(conn).Check(t.Context(), &healthpb.HealthCheckRequest{Service: service})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("health of %q: %v %v", service, resp.GetStatus(), err)
		}
	}
}

func TestServeRefusesInvalidConfigNamingTheKey(t *testing.T) {
	t.Setenv("TOKENGATE_QUOTA_ENFORCEMENT", "strict")
	var out bytes.Buffer
	err := run(t.Context(), []string{"serve"}, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "quota.enforcement") {
		t.Fatalf("got %v, want an error naming quota.enforcement", err)
	}
}

func TestUnknownCommand(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), []string{"frobnicate"}, &out, &out); err == nil || !strings.Contains(out.String(), "usage:") {
		t.Fatalf("got %v and %q", err, out.String())
	}
}
