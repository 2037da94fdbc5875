package fakeupstream

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// anthropic is the Anthropic messages dialect (/v1/messages), which LiteLLM
// also serves. Validation messages follow Anthropic's "field: problem" form.
type anthropic struct{}

func (anthropic) authorized(r *http.Request, key string) bool {
	return r.Header.Get("x-api-key") == key || r.Header.Get("Authorization") == "Bearer "+key
}

func (anthropic) writeError(w http.ResponseWriter, opts *Options, e apiError) {
	writeAnthropicError(w, opts, e.Status, e)
}

func (anthropic) plan(body []byte, opts *Options, k knobs) (plan, *apiError) {
	var req struct {
		Model     *string           `json:"model"`
		MaxTokens *json.Number      `json:"max_tokens"`
		Messages  []json.RawMessage `json:"messages"`
		Stream    *bool             `json:"stream"`
	}
	if !json.Valid(body) {
		return plan{}, badRequest("There was an error parsing the body of your request: not valid JSON.", "", "")
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return plan{}, badRequest("Invalid request body: "+err.Error(), "", "")
	}
	switch {
	case req.Model == nil || *req.Model == "":
		return plan{}, badRequest("model: Field required", "", "")
	case req.MaxTokens == nil:
		return plan{}, badRequest("max_tokens: Field required", "", "")
	case req.Messages == nil:
		return plan{}, badRequest("messages: Field required", "", "")
	case len(req.Messages) == 0:
		return plan{}, badRequest("messages: at least one message is required", "", "")
	}
	limit, err := req.MaxTokens.Int64()
	switch {
	case err != nil:
		return plan{}, badRequest("max_tokens: Input should be a valid integer", "", "")
	case limit < 1:
		return plan{}, badRequest("max_tokens: Input should be greater than or equal to 1", "", "")
	case opts.OutputCeiling > 0 && limit > int64(opts.OutputCeiling):
		return plan{}, badRequest(fmt.Sprintf("max_tokens: %d > %d, which is the maximum allowed number of output tokens for %s",
			limit, opts.OutputCeiling, *req.Model), "", "")
	}
	for i, raw := range req.Messages {
		var m struct {
			Role string `json:"role"`
		}
		if json.Unmarshal(raw, &m) != nil || (m.Role != "user" && m.Role != "assistant") {
			return plan{}, badRequest(fmt.Sprintf("messages.%d.role: Input should be 'user' or 'assistant'", i), "", "")
		}
	}
	counted, err := CountPromptTokens(body)
	if err != nil {
		return plan{}, badRequest("Invalid request body: "+err.Error(), "", "")
	}
	p := plan{model: *req.Model, choices: 1, stream: req.Stream != nil && *req.Stream, cutAfter: k.cutAfter}
	p.prompt, p.perChoice, p.capped = resolve(opts, k, counted, limit)
	return p, nil
}

type anthropicMessage struct {
	ID           string           `json:"id"`
	Type         string           `json:"type"`
	Role         string           `json:"role"`
	Model        string           `json:"model"`
	Content      []anthropicBlock `json:"content"`
	StopReason   *string          `json:"stop_reason"`
	StopSequence *string          `json:"stop_sequence"`
	Usage        anthropicUsage   `json:"usage"`
}

type anthropicBlock struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type anthropicUsage struct {
	InputTokens              int    `json:"input_tokens"`
	CacheCreationInputTokens int    `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int    `json:"cache_read_input_tokens"`
	OutputTokens             int    `json:"output_tokens"`
	ServiceTier              string `json:"service_tier"`
}

func stopReason(p plan) string {
	if p.capped {
		return "max_tokens"
	}
	return "end_turn"
}

func messageIDs(n int64) (message, request string) {
	return fmt.Sprintf("msg_01FAKE%018d", n), fmt.Sprintf("req_01FAKE%018d", n)
}

func (anthropic) respond(s *Server, w http.ResponseWriter, r *http.Request, opts *Options, p plan) error {
	id, reqID := messageIDs(s.nextID(opts))
	u := p.usage()
	if p.stream {
		return streamMessage(startEvents(r, w, opts, "request-id", reqID), p, id)
	}
	reason := stopReason(p)
	m := anthropicMessage{
		ID:         id,
		Type:       "message",
		Role:       "assistant",
		Model:      p.model,
		Content:    []anthropicBlock{{Type: "text", Text: completionText(0, p.perChoice)}},
		StopReason: &reason,
		Usage:      anthropicUsage{InputTokens: u.PromptTokens, OutputTokens: u.CompletionTokens, ServiceTier: "standard"},
	}
	w.Header().Set("request-id", reqID)
	if p.cutAfter >= 0 {
		return writeCut(w, marshal(m, opts.IndentJSON))
	}
	writeJSON(w, opts, http.StatusOK, m)
	return nil
}
