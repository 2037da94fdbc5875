package main

import (
	"bytes"
	"net"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"google.golang.org/grpc"

	"github.com/iasolaris/tokengate/admin"
	"github.com/iasolaris/tokengate/extproc"
	"github.com/iasolaris/tokengate/quota/memledger"
)

// startTokengate runs tokengate's ext_proc server and admin port in process,
// on loopback ports, the way `tokengate serve` wires them with the
// in-memory ledger. It returns their addresses.
func startTokengate(t *testing.T) (grpcAddr, adminAddr string) {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ledger := memledger.New(memledger.Options{})
	srv, err := extproc.New(ledger, extproc.UserHeader{Header: "x-user-email", Allowance: 1 << 40}, extproc.Options{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	extprocv3.RegisterExternalProcessorServer(gs, srv)
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(gs.Stop)
	adm := httptest.NewServer(admin.New(ledger, admin.Options{Gatherer: reg}))
	t.Cleanup(adm.Close)
	return lis.Addr().String(), strings.TrimPrefix(adm.URL, "http://")
}

// runReport runs loadgen with args and returns its report, parsed and as
// printed; a report that is not ok fails the test.
func runReport(t *testing.T, args []string) (map[string]map[string]string, string) {
	t.Helper()
	cfg, err := parseFlags(args, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rep, err := run(t.Context(), cfg, &out)
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + out.String())
	if !rep.ok() {
		t.Errorf("report not ok")
	}
	return parseReport(t, out.String()), out.String()
}

// TestRunSettlesEveryStream runs a small load end to end: every stream must
// complete with every event, tokengate must strip the usage chunk it asked
// for, and every account must be charged exactly what the upstream reported.
func TestRunSettlesEveryStream(t *testing.T) {
	grpcAddr, adminAddr := startTokengate(t)
	lines, _ := runReport(t, []string{
		"-target", grpcAddr, "-admin", adminAddr,
		"-streams", "20", "-accounts", "4", "-tokens", "5", "-chunk-interval", "5ms",
		"-ramp", "20ms", "-duration", "20s", "-sample-interval", "10ms",
		// A loaded machine running the race detector must not turn a slow
		// scheduler into Envoy's 504.
		"-message-timeout", "5s",
		"-check-balance", "-timeline",
	})
	for _, c := range []struct{ topic, key, want string }{
		{"streams", "started", "20"},
		{"streams", "completed", "20"},
		{"streams", "failed", "0"},
		{"status", "200", "20"},
		{"upstream", "called", "20"},
		{"upstream", "include_usage", "20"}, // tokengate asked for usage
		{"upstream", "usage_chunks_to_client", "0"},
		{"envoy", "message_timeouts", "0"},
		{"balance", "accounts", "4"},
		{"balance", "mismatches", "0"},
		{"server_counter", `tokengate_decisions_total{outcome="admitted"}`, ""},
	} {
		got, ok := lines[c.topic][c.key]
		if !ok || (c.want != "" && got != c.want) {
			t.Errorf("%s %s = %q (present %v), want %q", c.topic, c.key, got, ok, c.want)
		}
	}
	// Every client event is timed: role, 5 tokens, finish and [DONE], per stream.
	if got := lines["latency_ms phase=chunk"]["n"]; got != strconv.Itoa(20*8) {
		t.Errorf("chunk latencies n = %s, want %d", got, 20*8)
	}
	for _, key := range []string{"before", "peak", "after"} {
		if v, err := strconv.ParseFloat(lines["rss_mib"][key], 64); err != nil || v <= 0 {
			t.Errorf("rss_mib %s = %q, want a size", key, lines["rss_mib"][key])
		}
	}
	if _, ok := lines["result ok"]; !ok {
		t.Errorf("no `result ok` line")
	}
}

// TestSoakSettlesEveryRequest runs a small soak: a few streams loop over
// hundreds of requests and dozens of accounts. Every request must complete,
// each account must be charged exactly what the upstream reported for its
// requests, and the soak lines must read the server at each share of the
// finished requests.
func TestSoakSettlesEveryRequest(t *testing.T) {
	grpcAddr, adminAddr := startTokengate(t)
	const requests, accounts = 200, 25
	lines, out := runReport(t, []string{
		"-target", grpcAddr, "-admin", adminAddr,
		"-requests", strconv.Itoa(requests), "-accounts", strconv.Itoa(accounts), "-streams", "12",
		"-tokens", "3", "-chunk-interval", "0", "-ramp", "0", "-duration", "15s", "-sample-interval", "10ms",
		"-message-timeout", "5s", // as in TestRunSettlesEveryStream: a slow scheduler is not a 504
		"-check-balance", "-timeline",
	})
	for _, c := range []struct{ topic, key, want string }{
		{"config", "requests", strconv.Itoa(requests)},
		{"streams", "started", strconv.Itoa(requests)},
		{"streams", "completed", strconv.Itoa(requests)},
		{"streams", "failed", "0"},
		{"status", "200", strconv.Itoa(requests)},
		{"upstream", "called", strconv.Itoa(requests)},
		{"upstream", "include_usage", strconv.Itoa(requests)},
		{"upstream", "usage_chunks_to_client", "0"},
		{"balance", "accounts", strconv.Itoa(accounts)},
		{"balance", "mismatches", "0"},
		{"soak", "requests", strconv.Itoa(requests)},
		{"soak", "accounts", strconv.Itoa(accounts)},
		{"soak", "finished", strconv.Itoa(requests)},
		{"server_counter", `tokengate_decisions_total{outcome="admitted"}`, strconv.Itoa(requests)},
	} {
		if got, ok := lines[c.topic][c.key]; !ok || got != c.want {
			t.Errorf("%s %s = %q (present %v), want %q", c.topic, c.key, got, ok, c.want)
		}
	}
	// Role, 3 tokens, finish and [DONE] per request, each timed.
	if got := lines["latency_ms phase=chunk"]["n"]; got != strconv.Itoa(requests*6) {
		t.Errorf("chunk latencies n = %s, want %d", got, requests*6)
	}
	if v := number(t, lines, "soak", "requests_per_s"); v <= 0 {
		t.Errorf("soak requests_per_s = %g, want a rate", v)
	}
	// Each point's sample saw at least its share finished, in order.
	prev := 0.0
	for _, c := range []struct {
		key   string
		least float64
	}{{"at_10pct", requests / 10}, {"at_50pct", requests / 2}, {"at_90pct", requests * 9 / 10}, {"at_end", requests}} {
		if v := number(t, lines, "soak_finished", c.key); v < c.least || v < prev || v > requests {
			t.Errorf("soak_finished %s = %g, want in [max(%g, %g), %d]", c.key, v, c.least, prev, requests)
		} else {
			prev = v
		}
	}
	// Every point is a sample the peak was taken over, so none exceeds it.
	for _, g := range []struct{ soak, peak string }{
		{"soak_rss_mib", "rss_mib"}, {"soak_heap_inuse_mib", "heap_inuse_mib"}, {"soak_goroutines", "goroutines"},
	} {
		peak := number(t, lines, g.peak, "peak")
		for _, key := range []string{"at_10pct", "at_50pct", "at_90pct", "at_end", "after"} {
			if v := number(t, lines, g.soak, key); v <= 0 || v > peak {
				t.Errorf("%s %s = %g, want in (0, peak %g]", g.soak, key, v, peak)
			}
		}
	}
	for _, key := range []string{"growth_10pct_to_end_mib", "growth_per_request_bytes"} {
		number(t, lines, "soak_rss_mib", key)
	}
	if v := number(t, lines, "soak_loadgen_heap_mib", "at_end"); v <= 0 {
		t.Errorf("soak_loadgen_heap_mib at_end = %g, want a size", v)
	}
	// The timeline counts finished requests as they grow, ending with all.
	last := int64(-1)
	for line := range strings.Lines(out) {
		if !strings.HasPrefix(line, "sample ") {
			continue
		}
		_, f, ok := strings.Cut(strings.TrimSpace(line), " finished=")
		n, err := strconv.ParseInt(f, 10, 64)
		if !ok || err != nil || n < last {
			t.Fatalf("sample line %q: finished missing or below %d", line, last)
		}
		last = n
	}
	if last != requests {
		t.Errorf("last sample saw %d requests finished, want %d", last, requests)
	}
}

// number is a report value that must parse as a number.
func number(t *testing.T, lines map[string]map[string]string, topic, key string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(lines[topic][key], 64)
	if err != nil {
		t.Errorf("%s %s = %q, want a number", topic, key, lines[topic][key])
	}
	return v
}

// parseReport splits the report's lines into topic → key → value. Latency
// lines are keyed by topic and phase, as they repeat the topic.
func parseReport(t *testing.T, text string) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	for line := range strings.Lines(text) {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			t.Fatalf("empty report line")
		}
		topic, pairs := fields[0], fields[1:]
		if topic == "latency_ms" || topic == "result" {
			topic, pairs = strings.Join(fields[:2], " "), fields[2:]
		}
		kv := map[string]string{}
		for _, p := range pairs {
			k, v, ok := strings.Cut(p, "=")
			if !ok {
				t.Fatalf("report line %q: %q is not key=value", line, p)
			}
			kv[k] = v
		}
		if topic == "server_counter" {
			out[topic] = merge(out[topic], map[string]string{pairs[0]: kv["delta"]})
			continue
		}
		if topic == "sample" || topic == "mismatch" || topic == "failure" {
			continue // repeated lines
		}
		out[topic] = kv
	}
	return out
}

func merge(a, b map[string]string) map[string]string {
	if a == nil {
		a = map[string]string{}
	}
	for k, v := range b {
		a[k] = v
	}
	return a
}

// TestParseFlagsSoak checks -requests and the -duration a soak gets when
// none is given: the cap must not be what ends a soak of 100,000 requests.
func TestParseFlagsSoak(t *testing.T) {
	for _, c := range []struct {
		args     []string
		requests int
		duration time.Duration
		planned  int
		err      string
	}{
		{args: nil, requests: 0, duration: time.Minute, planned: 1000},
		{args: []string{"-streams", "50"}, requests: 0, duration: time.Minute, planned: 50},
		{args: []string{"-requests", "100000", "-accounts", "10000", "-streams", "200"}, requests: 100000, duration: 30 * time.Minute, planned: 100000},
		{args: []string{"-requests", "500", "-duration", "3m"}, requests: 500, duration: 3 * time.Minute, planned: 500},
		{args: []string{"-requests", "-1"}, err: "-requests: must not be negative"},
	} {
		cfg, err := parseFlags(c.args, &bytes.Buffer{})
		if c.err != "" {
			if err == nil || err.Error() != c.err {
				t.Errorf("%q: err = %v, want %q", c.args, err, c.err)
			}
			continue
		}
		if err != nil || cfg.Requests != c.requests || cfg.Duration != c.duration || cfg.planned() != c.planned {
			t.Errorf("%q: requests %d duration %s planned %d, err %v; want %d %s %d", c.args,
				cfg.Requests, cfg.Duration, cfg.planned(), err, c.requests, c.duration, c.planned)
		}
	}
}

func TestLoopback(t *testing.T) {
	for _, c := range []struct {
		addr, want string
		ok         bool
	}{
		{"127.0.0.1:50051", "127.0.0.1:50051", true},
		{"127.10.0.3:8081", "127.10.0.3:8081", true},
		{"localhost:8081", "127.0.0.1:8081", true},
		{"[::1]:50051", "[::1]:50051", true},
		{"10.0.0.5:50051", "", false},
		{"0.0.0.0:50051", "", false},
		{"[::]:50051", "", false},
		{"tokengate.svc.cluster.local:50051", "", false},
		{":50051", "", false},
		{"127.0.0.1", "", false},
	} {
		got, err := loopback(c.addr)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("loopback(%q) = %q, %v; want %q, ok %v", c.addr, got, err, c.want, c.ok)
		}
	}
}

func TestParseMetrics(t *testing.T) {
	text := `# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 2017
go_memstats_heap_inuse_bytes 2.4576e+07
go_memstats_alloc_bytes 1.2e+07
process_resident_memory_bytes 4.5481984e+07
tokengate_decisions_total{outcome="admitted"} 1000
tokengate_phase_duration_seconds_sum{phase="settle"} 0.25
`
	set, err := parseMetrics(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]float64{
		"go_goroutines":                                        2017,
		"go_memstats_heap_inuse_bytes":                         24576000,
		"process_resident_memory_bytes":                        45481984,
		`tokengate_decisions_total{outcome="admitted"}`:        1000,
		`tokengate_phase_duration_seconds_sum{phase="settle"}`: 0.25,
		"go_memstats_alloc_bytes":                              -1, // not kept
	} {
		if got := set.get(key); got != want {
			t.Errorf("%s = %g, want %g", key, got, want)
		}
	}
}
