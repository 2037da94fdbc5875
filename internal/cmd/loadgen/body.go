package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/iasolaris/tokengate/extproc/openai"
	"github.com/iasolaris/tokengate/extproc/tokens"
)

// defaultModel is what the generated body asks for: the model LibreChat
// users pick most.
const defaultModel = "gpt-4o-mini"

// chatMessage and chatRequest spell a request the way LibreChat's OpenAI
// client sends it, in its field order.
type chatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type chatRequest struct {
	Model            string        `json:"model"`
	Temperature      float64       `json:"temperature"`
	TopP             float64       `json:"top_p"`
	PresencePenalty  float64       `json:"presence_penalty"`
	FrequencyPenalty float64       `json:"frequency_penalty"`
	Stream           bool          `json:"stream"`
	User             string        `json:"user"`
	Messages         []chatMessage `json:"messages"`
}

// conversation is a LibreChat-like history: a system prompt with the
// instance's rules, then alternating turns, ending with the user's question.
// About 4 KB of JSON, a typical conversation a few turns in.
var conversation = []chatMessage{
	{"system", "You are the support assistant of a regional solar installer. Answer in the user's language, keep answers short, use bullet lists for steps, and cite the utility's rule when one applies. If you do not know, say so.\nCurrent date: 2025-03-14. User role: field technician.\nRules: do not invent regulation numbers; show formulas when asked to calculate; money in BRL with two decimals; never give definitive legal advice; when the user shares a bill, average the last twelve months of consumption."},
	{"user", "A customer in Campinas uses about 520 kWh a month. How many 550 W modules do I need for an on-grid system?"},
	{"assistant", "Step by step:\n\n1. **Daily use**: 520 kWh / 30 = 17.3 kWh per day.\n2. **Peak sun hours in Campinas**: about 5.2 h per day.\n3. **Array size**: 17.3 / (5.2 x 0.80) = 4.16 kWp, allowing 20% for losses.\n4. **Modules**: 4,160 / 550 = 7.6, so **8 modules** (4.40 kWp).\n\nEight modules leave a small margin. Remember the utility's minimum charge, which the credits never cover."},
	{"user", "Which inverter would you pair with 4.40 kWp? The customer already has a 3.6 kW one from an old quote."},
	{"assistant", "A 3.6 kW inverter under 4.40 kWp is a DC/AC ratio of 1.22, which most manufacturers accept (many allow up to 1.30):\n\n- **Clipping**: expect a few percent of energy lost around noon on the clearest days, usually under 2% a year.\n- **Warranty**: check the datasheet's maximum DC input power; some brands void the warranty above 1.25.\n- **String sizing**: with 8 modules in one string, confirm that Voc at the coldest expected temperature stays below the inverter's maximum input voltage.\n\nIf the customer plans to add modules later, a 5 kW inverter is the safer choice."},
	{"user", "Can you write a small Python function that sizes the array from monthly consumption and peak sun hours?"},
	{"assistant", "```python\nimport math\n\ndef size_array(monthly_kwh: float, sun_hours: float, module_w: int = 550, losses: float = 0.20) -> tuple[float, int]:\n    \"\"\"Returns (kWp needed, number of modules).\"\"\"\n    daily = monthly_kwh / 30\n    kwp = daily / (sun_hours * (1 - losses))\n    modules = math.ceil(kwp * 1000 / module_w)\n    return kwp, modules\n\nif __name__ == \"__main__\":\n    kwp, n = size_array(520, 5.2)\n    print(f\"{kwp:.2f} kWp -> {n} modules\")\n```\n\nFor 520 kWh and 5.2 sun hours it prints `4.17 kWp -> 8 modules`."},
	{"user", "The roof faces north-west with a 15 degree tilt. How much does that cost us compared with a north-facing roof?"},
	{"assistant", "In the southern hemisphere a north-facing roof is ideal, so north-west is a small loss:\n\n- **Orientation**: about 45 degrees off north costs roughly 3% to 5% of yearly yield at Campinas' latitude (about 23 degrees south).\n- **Tilt**: 15 degrees is below the latitude; annual yield drops by about 1% to 2%, slightly more in winter, slightly less in summer.\n- **Combined**: expect 4% to 7% less energy, roughly 25 to 40 kWh a month for this system.\n\nTwo ways to compensate:\n\n1. Add one module (9 x 550 W = 4.95 kWp), which more than covers the loss.\n2. Keep 8 modules and accept a slightly larger bill in the winter months.\n\nThe first option usually pays back within the same period as the rest of the system, and the 3.6 kW inverter still works with a DC/AC ratio of 1.38 only if the datasheet allows it; otherwise move to a 5 kW model."},
	{"user", "Great. Now explain in five bullet points how the net-metering credits work for a customer who connected after January 2023, including what part of the distribution tariff is charged on the energy they inject, and whether credits expire."},
}

// requestBody returns the body every stream sends (each gets its own copy)
// and its model: the generated conversation, or the file's request with
// "stream":true and no stream_options, as a client that did not ask for usage.
func requestBody(file string) ([]byte, string, error) {
	if file == "" {
		b, err := json.Marshal(chatRequest{
			Model: defaultModel, Temperature: 0.7, TopP: 1, Stream: true,
			User: "65f1c0de9a7b4e2d8c3f1a0b", Messages: conversation,
		})
		return b, defaultModel, err
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, "", fmt.Errorf("loadgen: read body: %w", err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, "", fmt.Errorf("loadgen: body %s: %w", file, err)
	}
	var model string
	_ = json.Unmarshal(m["model"], &model)
	m["stream"] = json.RawMessage("true")
	// tokengate must inject include_usage itself; that is what is measured.
	delete(m, "stream_options")
	b, err := json.Marshal(m)
	if err != nil {
		return nil, "", fmt.Errorf("loadgen: body %s: %w", file, err)
	}
	return b, model, nil
}

// promptTokens is what the upstream reports as prompt_tokens: the exact
// count with the model's encoding where it is known, as OpenAI would report
// it, else a quarter of the body's bytes.
func promptTokens(body []byte, model string) int64 {
	enc, ok := tokens.ForModel(model)
	if !ok {
		return int64(len(body) / 4)
	}
	msgs, tools, err := openai.ExactMessages(body)
	if err != nil {
		return int64(len(body) / 4)
	}
	return int64(enc.ChatPrompt(msgs, tools))
}
