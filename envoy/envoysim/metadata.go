package envoysim

import (
	"slices"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

// attributesKey is where Envoy puts evaluated attributes (envoy-ext-proc.md E25).
const attributesKey = "envoy.filters.http.ext_proc"

// metadataContext is E26: always present, holding the forwarding namespaces
// found in the stream's dynamic metadata.
func (x *exchange) metadataContext() *corev3.Metadata {
	md := &corev3.Metadata{}
	for _, ns := range x.o.ForwardingNamespaces {
		s, ok := x.metadata[ns]
		if !ok {
			continue
		}
		if md.FilterMetadata == nil {
			md.FilterMetadata = make(map[string]*structpb.Struct)
		}
		md.FilterMetadata[ns] = proto.Clone(s).(*structpb.Struct)
	}
	return md
}

// receiveMetadata is E46: dynamic_metadata is written only for receiving
// namespaces, merged field by field into what the stream already has.
func (x *exchange) receiveMetadata(m *extprocv3.ProcessingResponse) {
	for ns, v := range m.GetDynamicMetadata().GetFields() {
		if !slices.Contains(x.o.ReceivingNamespaces, ns) {
			x.log.Debug("envoysim: dynamic metadata for a namespace not configured for receiving", "namespace", ns)
			continue
		}
		dst, ok := x.metadata[ns]
		if !ok {
			dst = &structpb.Struct{Fields: make(map[string]*structpb.Value)}
			x.metadata[ns] = dst
		}
		for k, fv := range v.GetStructValue().GetFields() {
			dst.Fields[k] = proto.Clone(fv).(*structpb.Value)
		}
	}
}

// addAttributes is E25: configured attributes on the first message of a
// direction only. Envoy prints non-boolean CEL results as strings.
func (x *exchange) addAttributes(d *direction, req *extprocv3.ProcessingRequest) {
	names := x.o.RequestAttributes
	if d == &x.enc {
		names = x.o.ResponseAttributes
	}
	if len(names) == 0 || d.attrsSent {
		return
	}
	d.attrsSent = true
	fields := make(map[string]*structpb.Value, len(names))
	for _, name := range names {
		if v, ok := x.attribute(name); ok {
			fields[name] = structpb.NewStringValue(v)
		}
	}
	req.Attributes = map[string]*structpb.Struct{attributesKey: {Fields: fields}}
}

// attribute evaluates the few attributes envoysim knows.
func (x *exchange) attribute(name string) (string, bool) {
	path, _ := x.reqHeaders.get(":path")
	switch name {
	case "request.path":
		return path, true
	case "request.url_path":
		p, _, _ := strings.Cut(path, "?")
		return p, true
	case "request.query":
		_, q, _ := strings.Cut(path, "?")
		return q, true
	case "request.host":
		return x.reqHeaders.get(":authority")
	case "request.scheme":
		return x.reqHeaders.get(":scheme")
	case "request.method":
		return x.reqHeaders.get(":method")
	case "request.id":
		return x.reqHeaders.get("x-request-id")
	case "request.referer":
		return x.reqHeaders.get("referer")
	case "request.useragent":
		return x.reqHeaders.get("user-agent")
	case "response.code":
		return x.respHeaders.get(":status")
	}
	x.log.Debug("envoysim: attribute not emulated", "attribute", name)
	return "", false
}
