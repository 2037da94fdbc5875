package fakeupstream

import "encoding/json"

// chatChunk is one chat.completion.chunk in OpenAI's field order. Usage is
// raw so that it can be absent (include_usage off), null (include_usage on,
// every chunk but the last) or the usage object (the last chunk).
type chatChunk struct {
	ID                string          `json:"id"`
	Object            string          `json:"object"`
	Created           int64           `json:"created"`
	Model             string          `json:"model"`
	ServiceTier       string          `json:"service_tier"`
	SystemFingerprint string          `json:"system_fingerprint"`
	Choices           []chunkChoice   `json:"choices"`
	Usage             json.RawMessage `json:"usage,omitempty"`
	Obfuscation       string          `json:"obfuscation,omitempty"`
}

type chunkChoice struct {
	Index        int        `json:"index"`
	Delta        chunkDelta `json:"delta"`
	Logprobs     *struct{}  `json:"logprobs"`
	FinishReason *string    `json:"finish_reason"`
}

// chunkDelta is {"role":"assistant","content":"","refusal":null} in the
// first chunk of a choice, {"content":"…"} after, and {} with the finish.
type chunkDelta struct {
	Role    string          `json:"role,omitempty"`
	Content *string         `json:"content,omitempty"`
	Refusal json.RawMessage `json:"refusal,omitempty"`
}

// chatStream numbers and frames the chunks of one streamed answer.
type chatStream struct {
	ev   *eventWriter
	p    plan
	base chatChunk // id, object, created, model, tier, fingerprint
	seq  int
}

func (cs *chatStream) send(choices []chunkChoice, usage json.RawMessage) error {
	c := cs.base
	c.Choices = choices
	c.Usage = usage
	if usage == nil && cs.p.includeUsage {
		c.Usage = json.RawMessage("null")
	}
	if cs.p.obfuscate {
		c.Obfuscation = obfuscation(cs.seq)
	}
	cs.seq++
	return cs.ev.send("", marshal(c, false))
}

// streamChat sends OpenAI's sequence: per choice a role chunk; then the
// content tokens, one chunk each, round-robin over the choices; per choice a
// finish chunk with an empty delta; with include_usage a usage-only chunk
// with "choices":[]; then [DONE].
func streamChat(ev *eventWriter, opts *Options, p plan, id string) error {
	cs := &chatStream{ev: ev, p: p, base: chatChunk{
		ID:                id,
		Object:            "chat.completion.chunk",
		Created:           created(opts),
		Model:             p.model,
		ServiceTier:       serviceTier,
		SystemFingerprint: systemFingerprint,
	}}
	empty := ""
	for c := range p.choices {
		d := chunkDelta{Role: "assistant", Content: &empty, Refusal: json.RawMessage("null")}
		if err := cs.send([]chunkChoice{{Index: c, Delta: d}}, nil); err != nil {
			return err
		}
	}
	sent := 0
	for k := range p.perChoice {
		for c := range p.choices {
			if sent == p.cutAfter {
				return errCut
			}
			text := tokenText(c, k)
			if err := cs.send([]chunkChoice{{Index: c, Delta: chunkDelta{Content: &text}}}, nil); err != nil {
				return err
			}
			sent++
		}
	}
	if sent == p.cutAfter {
		return errCut // asked to cut after the last token: still no finish, no usage
	}
	reason := finishReason(p)
	for c := range p.choices {
		if err := cs.send([]chunkChoice{{Index: c, FinishReason: &reason}}, nil); err != nil {
			return err
		}
	}
	if p.includeUsage {
		u := marshal(newUsageBody(p.usage()), false)
		if err := cs.send([]chunkChoice{}, u); err != nil {
			return err
		}
	}
	return ev.send("", []byte("[DONE]"))
}
