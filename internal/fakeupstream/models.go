package fakeupstream

import "net/http"

type modelList struct {
	Object string      `json:"object"`
	Data   []modelInfo `json:"data"`
}

type modelInfo struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

// writeModels answers GET /v1/models the way LiteLLM does: every configured
// model, owned by "openai", created at a fixed time. It is not a model call,
// so no hit is counted, but the key is checked as LiteLLM would.
func writeModels(w http.ResponseWriter, r *http.Request, opts *Options) {
	if opts.APIKey != "" && !(openAI{}).authorized(r, opts.APIKey) {
		e := forcedError(http.StatusUnauthorized)
		writeOpenAIError(w, opts, e.Status, e)
		return
	}
	l := modelList{Object: "list", Data: make([]modelInfo, 0, len(opts.Models))}
	for _, m := range opts.Models {
		l.Data = append(l.Data, modelInfo{ID: m, Object: "model", Created: FixedCreated, OwnedBy: "openai"})
	}
	writeJSON(w, opts, http.StatusOK, l)
}
