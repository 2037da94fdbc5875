package fakeupstream

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// sdkUsage is the part of the SDK's usage that the fake reports.
type sdkUsage struct {
	Prompt, Completion, Total, Cached, Reasoning int64
}

func fromSDK(u openai.CompletionUsage) sdkUsage {
	return sdkUsage{u.PromptTokens, u.CompletionTokens, u.TotalTokens,
		u.PromptTokensDetails.CachedTokens, u.CompletionTokensDetails.ReasoningTokens}
}

// TestOpenAISDK checks that the official SDK reads the fake's non-streamed
// and streamed answers alike: same text, same finish reason, same usage,
// one request per call.
func TestOpenAISDK(t *testing.T) {
	for _, tc := range []struct {
		name    string
		params  openai.ChatCompletionNewParams
		finish  string
		usage   sdkUsage
		choices int
	}{
		{
			name: "capped by max_completion_tokens",
			params: openai.ChatCompletionNewParams{
				Model:               "gpt-4o-mini",
				Messages:            []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Say hello")},
				MaxCompletionTokens: openai.Int(5),
			},
			finish: "length", usage: sdkUsage{Prompt: 9, Completion: 5, Total: 14}, choices: 1,
		},
		{
			name: "natural stop with a system prompt",
			params: openai.ChatCompletionNewParams{
				Model: "gpt-4o",
				Messages: []openai.ChatCompletionMessageParamUnion{
					openai.SystemMessage("You are terse."), // 3 + ceil(14/4) = 7
					openai.UserMessage("Say hello"),        // 3 + ceil(9/4) = 6
				},
				MaxTokens: openai.Int(100),
			},
			finish: "stop", usage: sdkUsage{Prompt: 16, Completion: 16, Total: 32}, choices: 1,
		},
		{
			name: "two choices",
			params: openai.ChatCompletionNewParams{
				Model:     "gpt-4o-mini",
				Messages:  []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Say hello")},
				N:         openai.Int(2),
				MaxTokens: openai.Int(3),
			},
			finish: "length", usage: sdkUsage{Prompt: 9, Completion: 6, Total: 15}, choices: 2,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake, ts := start(t, Options{APIKey: "sk-test"})
			client := openai.NewClient(option.WithBaseURL(ts.URL+"/v1/"), option.WithAPIKey("sk-test"), option.WithMaxRetries(0))

			plain, err := client.Chat.Completions.New(t.Context(), tc.params)
			if err != nil {
				t.Fatal(err)
			}
			if len(plain.Choices) != tc.choices {
				t.Fatalf("%d choices, want %d", len(plain.Choices), tc.choices)
			}
			if got := string(plain.Choices[0].FinishReason); got != tc.finish {
				t.Errorf("finish_reason %q, want %q", got, tc.finish)
			}
			if diff := cmp.Diff(tc.usage, fromSDK(plain.Usage)); diff != "" {
				t.Errorf("non-streamed usage (-want +got):\n%s", diff)
			}
			if plain.Model != tc.params.Model || plain.ID == "" {
				t.Errorf("model %q id %q", plain.Model, plain.ID)
			}

			params := tc.params
			params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
			stream := client.Chat.Completions.NewStreaming(t.Context(), params)
			var acc openai.ChatCompletionAccumulator
			chunks := 0
			for stream.Next() {
				if !acc.AddChunk(stream.Current()) {
					t.Fatalf("accumulator refused chunk %d: %s", chunks, stream.Current().RawJSON())
				}
				chunks++
			}
			if err := stream.Err(); err != nil {
				t.Fatal(err)
			}
			if err := stream.Close(); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(fromSDK(plain.Usage), fromSDK(acc.Usage)); diff != "" {
				t.Errorf("streamed usage differs from non-streamed (-plain +stream):\n%s", diff)
			}
			if len(acc.Choices) != tc.choices {
				t.Fatalf("streamed %d choices, want %d", len(acc.Choices), tc.choices)
			}
			for i := range acc.Choices {
				if got, want := acc.Choices[i].Message.Content, plain.Choices[i].Message.Content; got != want {
					t.Errorf("choice %d streamed %q, non-streamed %q", i, got, want)
				}
				if got := string(acc.Choices[i].FinishReason); got != tc.finish {
					t.Errorf("choice %d streamed finish_reason %q, want %q", i, got, tc.finish)
				}
			}
			// role + tokens + finish per choice, then the usage chunk.
			if want := tc.choices*(2+int(tc.usage.Completion)/tc.choices) + 1; chunks != want {
				t.Errorf("SDK saw %d chunks, want %d", chunks, want)
			}
			if got := fake.Hits(); got != 2 {
				t.Errorf("hits %d, want 2 (one per call)", got)
			}
		})
	}
}

// TestOpenAISDKErrors checks that the SDK decodes the fake's error bodies
// into *openai.Error and does not retry a 400.
func TestOpenAISDKErrors(t *testing.T) {
	fake, ts := start(t, Options{})
	client := openai.NewClient(option.WithBaseURL(ts.URL+"/v1/"), option.WithAPIKey("sk-test"))
	_, err := client.Chat.Completions.New(t.Context(), openai.ChatCompletionNewParams{
		Model:     "gpt-4o-mini",
		Messages:  []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Say hello")},
		MaxTokens: openai.Int(0),
	})
	apiErr, ok := errors.AsType[*openai.Error](err)
	if !ok {
		t.Fatalf("err %v (%T), want *openai.Error", err, err)
	}
	if apiErr.StatusCode != 400 || apiErr.Code != "integer_below_min_value" || apiErr.Param != "max_tokens" || apiErr.Type != "invalid_request_error" {
		t.Errorf("error %d code %q param %q type %q", apiErr.StatusCode, apiErr.Code, apiErr.Param, apiErr.Type)
	}
	if got := fake.Hits(); got != 1 {
		t.Errorf("hits %d, want 1: a 400 must not be retried", got)
	}
}
