package envoysim

import (
	"testing"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/structpb"
)

// TestMetadataAndAttributes checks E25, E26 and E46: attributes go on the
// first message of each direction only; metadata_context carries the
// forwarding namespaces of the stream's dynamic metadata, including what
// the processor wrote into a receiving namespace; other namespaces are not
// written.
func TestMetadataAndAttributes(t *testing.T) {
	mustStruct := func(m map[string]any) *structpb.Struct {
		s, err := structpb.NewStruct(m)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	p, client := startProcessor(t, func(_ int, req *extprocv3.ProcessingRequest) answer {
		r := cont(kindOf(req), nil)
		if kindOf(req) == KindRequestHeaders {
			r.DynamicMetadata = mustStruct(map[string]any{
				"tokengate": map[string]any{"account": "a1"},
				"intruder":  map[string]any{"x": "y"},
			})
		}
		return answer{send: []*extprocv3.ProcessingResponse{r}}
	})
	f := newFilter(client, Options{
		ForwardingNamespaces: []string{"envoy.filters.http.jwt_authn", "tokengate", "intruder"},
		ReceivingNamespaces:  []string{"tokengate"},
		RequestAttributes:    []string{"request.path", "request.method", "xds.cluster_name"},
		ResponseAttributes:   []string{"response.code"},
	})
	req := chatRequest(chatBody)
	jwt := mustStruct(map[string]any{"sub": "ana@example.com"})
	req.DynamicMetadata = map[string]*structpb.Struct{"envoy.filters.http.jwt_authn": jwt, "other": mustStruct(map[string]any{"k": "v"})}
	res, _ := serve(t, f, req, &ScriptedUpstream{Chunks: byteChunks([]string{"{}"})})
	p.waitEnd(t)
	msgs := p.messages()
	tokengate := mustStruct(map[string]any{"account": "a1"})
	wantMetadata := []map[string]*structpb.Struct{
		{"envoy.filters.http.jwt_authn": jwt},
		{"envoy.filters.http.jwt_authn": jwt, "tokengate": tokengate},
		{"envoy.filters.http.jwt_authn": jwt, "tokengate": tokengate},
		{"envoy.filters.http.jwt_authn": jwt, "tokengate": tokengate},
	}
	wantAttrs := []map[string]*structpb.Struct{
		{attributesKey: mustStruct(map[string]any{"request.path": "/v1/chat/completions", "request.method": "POST"})},
		nil,
		{attributesKey: mustStruct(map[string]any{"response.code": "200"})},
		nil,
	}
	for i, m := range msgs {
		if d := cmp.Diff(wantMetadata[i], m.GetMetadataContext().GetFilterMetadata(), protocmp.Transform()); d != "" {
			t.Errorf("message %d metadata_context (-want +got):\n%s", i, d)
		}
		if d := cmp.Diff(wantAttrs[i], m.GetAttributes(), protocmp.Transform()); d != "" {
			t.Errorf("message %d attributes (-want +got):\n%s", i, d)
		}
	}
	if _, ok := res.DynamicMetadata["intruder"]; ok || res.DynamicMetadata["tokengate"] == nil {
		t.Errorf("dynamic metadata %v", res.DynamicMetadata)
	}
}
