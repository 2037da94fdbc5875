package fakeupstream

import (
	"fmt"
	"net/http"
)

// The structs below fix OpenAI's field order, so bodies match its byte
// layout; fields that OpenAI sends as null are nil pointers without
// omitempty.

type chatCompletion struct {
	ID                string             `json:"id"`
	Object            string             `json:"object"`
	Created           int64              `json:"created"`
	Model             string             `json:"model"`
	Choices           []completionChoice `json:"choices"`
	Usage             usageBody          `json:"usage"`
	ServiceTier       string             `json:"service_tier"`
	SystemFingerprint string             `json:"system_fingerprint"`
}

type completionChoice struct {
	Index        int               `json:"index"`
	Message      completionMessage `json:"message"`
	Logprobs     *struct{}         `json:"logprobs"`
	FinishReason string            `json:"finish_reason"`
}

type completionMessage struct {
	Role        string     `json:"role"`
	Content     string     `json:"content"`
	Refusal     *string    `json:"refusal"`
	Annotations []struct{} `json:"annotations"`
}

type usageBody struct {
	PromptTokens        int `json:"prompt_tokens"`
	CompletionTokens    int `json:"completion_tokens"`
	TotalTokens         int `json:"total_tokens"`
	PromptTokensDetails struct {
		CachedTokens int `json:"cached_tokens"`
		AudioTokens  int `json:"audio_tokens"`
	} `json:"prompt_tokens_details"`
	CompletionTokensDetails struct {
		ReasoningTokens          int `json:"reasoning_tokens"`
		AudioTokens              int `json:"audio_tokens"`
		AcceptedPredictionTokens int `json:"accepted_prediction_tokens"`
		RejectedPredictionTokens int `json:"rejected_prediction_tokens"`
	} `json:"completion_tokens_details"`
}

func newUsageBody(u Usage) usageBody {
	return usageBody{
		PromptTokens:     u.PromptTokens,
		CompletionTokens: u.CompletionTokens,
		TotalTokens:      u.PromptTokens + u.CompletionTokens,
	}
}

// Fixed values of the fields that real upstreams vary per deployment.
const (
	serviceTier       = "default"
	systemFingerprint = "fp_f4ce0000e2"
)

// chatIDs are the ids of one chat answer: the body's and the x-request-id.
func chatIDs(n int64) (completion, request string) {
	return fmt.Sprintf("chatcmpl-FAKE%025d", n), fmt.Sprintf("req_fake%024d", n)
}

func finishReason(p plan) string {
	if p.capped {
		return "length"
	}
	return "stop"
}

func (openAI) respond(s *Server, w http.ResponseWriter, r *http.Request, opts *Options, p plan) error {
	id, reqID := chatIDs(s.nextID(opts))
	if p.stream {
		return streamChat(startEvents(r, w, opts, "x-request-id", reqID), opts, p, id)
	}
	c := chatCompletion{
		ID:                id,
		Object:            "chat.completion",
		Created:           created(opts),
		Model:             p.model,
		Choices:           make([]completionChoice, p.choices),
		Usage:             newUsageBody(p.usage()),
		ServiceTier:       serviceTier,
		SystemFingerprint: systemFingerprint,
	}
	for i := range c.Choices {
		c.Choices[i] = completionChoice{
			Index: i,
			Message: completionMessage{
				Role:        "assistant",
				Content:     completionText(i, p.perChoice),
				Annotations: []struct{}{},
			},
			FinishReason: finishReason(p),
		}
	}
	w.Header().Set("x-request-id", reqID)
	if p.cutAfter >= 0 {
		return writeCut(w, marshal(c, opts.IndentJSON))
	}
	writeJSON(w, opts, http.StatusOK, c)
	return nil
}
