package envoysim

import (
	"net/http"

	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"
)

// MessageKind names a ProcessingRequest or ProcessingResponse case, spelled as
// its oneof field.
type MessageKind string

// The message kinds the filter counts.
const (
	KindRequestHeaders    MessageKind = "request_headers"
	KindRequestBody       MessageKind = "request_body"
	KindRequestTrailers   MessageKind = "request_trailers"
	KindResponseHeaders   MessageKind = "response_headers"
	KindResponseBody      MessageKind = "response_body"
	KindResponseTrailers  MessageKind = "response_trailers"
	KindImmediateResponse MessageKind = "immediate_response"
)

// CloseCause says why the filter closed its side of the gRPC stream.
type CloseCause string

// Close causes, each tied to the point of envoy-ext-proc.md E6 it reproduces.
const (
	// CloseNone: the stream was never opened, or is still open.
	CloseNone CloseCause = ""
	// CloseLastReply: right after the reply to the last expected message,
	// or when the response path has nothing to process (E6c, E6d).
	CloseLastReply CloseCause = "last_reply"
	// CloseImmediateResponse: on an immediate_response (E6a).
	CloseImmediateResponse CloseCause = "immediate_response"
	// CloseError: message timeout, spurious reply or mutation error (E6b).
	CloseError CloseCause = "error"
	// CloseRemote: the processor ended the RPC, with OK or an error (E8, E9).
	CloseRemote CloseCause = "remote"
	// CloseStreamEnd: at the end of the HTTP stream (E6e).
	CloseStreamEnd CloseCause = "stream_end"
	// CloseDownstreamGone: the client went away (E12).
	CloseDownstreamGone CloseCause = "downstream_gone"
)

// LocalReply is a response Envoy made up instead of the upstream's.
type LocalReply struct {
	Status int
	// Details is %RESPONSE_CODE_DETAILS%, e.g. "ext_proc_error_per-message_timeout_exceeded".
	Details string
	Body    []byte
	Header  http.Header
	// ViaProcessor: a router local reply that went through the processor as
	// a response (E57 with Options.LocalRepliesReachProcessor).
	ViaProcessor bool
}

// Result is what happened during one Serve call, for tests to assert on.
type Result struct {
	// Status is what the client received; 0 if it received no headers.
	Status int
	// UpstreamCalled reports that the request reached the upstream (E61);
	// UpstreamRequest is what it received.
	UpstreamCalled  bool
	UpstreamRequest *UpstreamRequest
	// ImmediateResponse reports that the processor answered with an
	// immediate_response (E41).
	ImmediateResponse bool
	// LocalReply is set when Envoy, not the upstream, produced the response.
	LocalReply *LocalReply
	// Reset reports that the downstream stream was reset (E42).
	Reset bool
	// ResetDetails says why, e.g. "upstream_response_timeout".
	ResetDetails string
	// DownstreamGone reports that the client went away first (E12).
	DownstreamGone bool

	// StreamOpened reports that a gRPC stream was opened (E2).
	StreamOpened bool
	// Close is why the filter closed the stream; Graceful that it half-closed
	// and waited (E5); RemoteCloseTimedOut that the processor did not end the
	// RPC within Options.RemoteCloseTimeout.
	Close               CloseCause
	Graceful            bool
	RemoteCloseTimedOut bool
	// ServerEnd is how the processor ended the RPC when the filter saw it
	// (status OK for a clean end); nil when the filter reset the stream first.
	ServerEnd *status.Status
	// Sent and Received count messages by kind; Received counts replies the
	// filter handled, including ones that failed a mutation.
	Sent     map[MessageKind]int
	Received map[MessageKind]int
	// Spurious counts replies that matched nothing outstanding (E40).
	Spurious int
	// MessageTimeouts counts expired message timers (E10).
	MessageTimeouts int
	// FailedOpen counts failures ignored because of FailureModeAllow.
	FailedOpen int
	// RejectedMutations counts header mutations skipped or refused (E47).
	RejectedMutations int
	// OverrideTimeouts and OverrideTimeoutsIgnored count accepted and
	// ignored override_message_timeout messages (E11).
	OverrideTimeouts        int
	OverrideTimeoutsIgnored int
	// ModeOverrides and ModeOverridesIgnored count mode_override fields
	// applied and ignored (E45).
	ModeOverrides        int
	ModeOverridesIgnored int
	// Watermarks counts the times reading the upstream paused because more
	// unanswered bytes were queued than the buffer limit (E32).
	Watermarks int
	// RouteCacheClears counts clear_route_cache requests Envoy would honour (E44).
	RouteCacheClears int
	// IgnoredAfterClose counts processor messages read after the filter
	// closed its side (E7); only graceful closes reliably read any.
	IgnoredAfterClose int
	// DynamicMetadata is the stream's dynamic metadata at the end: the
	// request's plus what the processor wrote in receiving namespaces (E46).
	DynamicMetadata map[string]*structpb.Struct
}
