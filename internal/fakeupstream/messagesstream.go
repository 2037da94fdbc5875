package fakeupstream

// The Anthropic stream events, in the order the API sends them.

type messageStart struct {
	Type    string           `json:"type"`
	Message anthropicMessage `json:"message"`
}

type blockStart struct {
	Type         string         `json:"type"`
	Index        int            `json:"index"`
	ContentBlock anthropicBlock `json:"content_block"`
}

type blockDelta struct {
	Type  string `json:"type"`
	Index int    `json:"index"`
	Delta struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"delta"`
}

type blockStop struct {
	Type  string `json:"type"`
	Index int    `json:"index"`
}

type messageDelta struct {
	Type  string `json:"type"`
	Delta struct {
		StopReason   string  `json:"stop_reason"`
		StopSequence *string `json:"stop_sequence"`
	} `json:"delta"`
	Usage struct {
		OutputTokens int `json:"output_tokens"`
	} `json:"usage"`
}

type bareEvent struct {
	Type string `json:"type"`
}

// streamMessage sends message_start (input_tokens, and output_tokens as the
// 1 Anthropic reports before generating: a client must take the final count
// from message_delta, not add the two), content_block_start, ping, one
// text_delta per token, content_block_stop, message_delta (cumulative
// output_tokens, stop_reason), message_stop.
func streamMessage(ev *eventWriter, p plan, id string) error {
	u := p.usage()
	start := messageStart{Type: "message_start", Message: anthropicMessage{
		ID:      id,
		Type:    "message",
		Role:    "assistant",
		Model:   p.model,
		Content: []anthropicBlock{},
		Usage:   anthropicUsage{InputTokens: u.PromptTokens, OutputTokens: min(1, u.CompletionTokens), ServiceTier: "standard"},
	}}
	if err := ev.send("message_start", marshal(start, false)); err != nil {
		return err
	}
	bs := blockStart{Type: "content_block_start", ContentBlock: anthropicBlock{Type: "text"}}
	if err := ev.send("content_block_start", marshal(bs, false)); err != nil {
		return err
	}
	if err := ev.send("ping", marshal(bareEvent{Type: "ping"}, false)); err != nil {
		return err
	}
	for k := range p.perChoice {
		if k == p.cutAfter {
			return errCut
		}
		d := blockDelta{Type: "content_block_delta"}
		d.Delta.Type = "text_delta"
		d.Delta.Text = tokenText(0, k)
		if err := ev.send("content_block_delta", marshal(d, false)); err != nil {
			return err
		}
	}
	if p.perChoice == p.cutAfter {
		return errCut
	}
	if err := ev.send("content_block_stop", marshal(blockStop{Type: "content_block_stop"}, false)); err != nil {
		return err
	}
	md := messageDelta{Type: "message_delta"}
	md.Delta.StopReason = stopReason(p)
	md.Usage.OutputTokens = u.CompletionTokens
	if err := ev.send("message_delta", marshal(md, false)); err != nil {
		return err
	}
	return ev.send("message_stop", marshal(bareEvent{Type: "message_stop"}, false))
}
