package main

import (
	"strings"
	"testing"
	"time"
)

func TestLoadConfigDefaults(t *testing.T) {
	c, err := loadConfig("", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.GRPC.Listen != ":50051" || c.Admin.Listen != ":8081" || c.Redis.URL != "" ||
		c.Quota.DefaultAllowance != 1_000_000 || c.Quota.Enforcement != "soft" ||
		c.Quota.FailMode != "open" || c.Identity.UserHeader != "x-user-email" || c.RateLimit.RPM != 60 ||
		c.Quota.HoldTTL != 10*time.Minute || c.location != time.UTC {
		t.Fatalf("defaults differ from design.md §8: %+v", c)
	}
}

func TestLoadConfigFileAndEnv(t *testing.T) {
	t.Setenv("TOKENGATE_RATELIMIT_RPM", "7")
	t.Setenv("TOKENGATE_QUOTA_DEFAULT_ALLOWANCE", "123")
	c, err := loadConfig("testdata/valid.yaml", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Quota.Enforcement != "hard" || c.Quota.FailMode != "closed" || c.location.String() != "America/Sao_Paulo" {
		t.Errorf("file values not applied: %+v", c.Quota)
	}
	if c.RateLimit.RPM != 7 || c.Quota.DefaultAllowance != 123 {
		t.Errorf("environment must override the file: rpm=%d allowance=%d", c.RateLimit.RPM, c.Quota.DefaultAllowance)
	}
}

func TestMetricsModelsFromTheEnvironment(t *testing.T) {
	t.Setenv("TOKENGATE_METRICS_MODELS", "gpt-4o,gpt-4o-mini")
	c, err := loadConfig("", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Metrics.Models) != 2 || c.Metrics.Models[0] != "gpt-4o" || c.Metrics.Models[1] != "gpt-4o-mini" {
		t.Fatalf("metrics.models = %q", c.Metrics.Models)
	}
}

func TestLoadConfigFlagsBeatEverything(t *testing.T) {
	t.Setenv("TOKENGATE_DEV_UPSTREAM", "http://from-env")
	c, err := loadConfig("", map[string]any{"log.format": "text"}, map[string]any{"dev.upstream": "http://from-flag"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Dev.Upstream != "http://from-flag" || c.Log.Format != "text" {
		t.Fatalf("got upstream %q format %q", c.Dev.Upstream, c.Log.Format)
	}
}

func TestLoadConfigErrorsNameTheKey(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		env     map[string]string
		wantKey string
	}{
		{name: "unknown key", file: "testdata/unknown_key.yaml", wantKey: "enforcment"},
		{name: "bad enum", file: "testdata/bad_enforcement.yaml", wantKey: "quota.enforcement"},
		{name: "bad type", file: "testdata/bad_type.yaml", wantKey: "default_allowance"},
		{name: "bad time zone", file: "testdata/bad_timezone.yaml", wantKey: "quota.timezone"},
		{name: "bad yaml", file: "testdata/bad_yaml.yaml", wantKey: "testdata/bad_yaml.yaml"},
		{name: "missing file", file: "testdata/nope.yaml", wantKey: "testdata/nope.yaml"},
		{name: "env fail mode", env: map[string]string{"TOKENGATE_QUOTA_FAIL_MODE": "sometimes"}, wantKey: "quota.fail_mode"},
		{name: "env listen", env: map[string]string{"TOKENGATE_GRPC_LISTEN": "50051"}, wantKey: "grpc.listen"},
		{name: "env redis url", env: map[string]string{"TOKENGATE_REDIS_URL": "http://127.0.0.1:6379"}, wantKey: "redis.url"},
		{name: "env header case", env: map[string]string{"TOKENGATE_IDENTITY_USER_HEADER": "X-User-Email"}, wantKey: "identity.user_header"},
		{name: "env negative rpm", env: map[string]string{"TOKENGATE_RATELIMIT_RPM": "-1"}, wantKey: "ratelimit.rpm"},
		{name: "env hold ttl", env: map[string]string{"TOKENGATE_QUOTA_HOLD_TTL": "0s"}, wantKey: "quota.hold_ttl"},
		{name: "env metrics model with prefix", env: map[string]string{"TOKENGATE_METRICS_MODELS": "openai/gpt-4o"}, wantKey: "metrics.models[0]"},
		{name: "env passthrough", env: map[string]string{"TOKENGATE_ROUTES_PASSTHROUGH": "GET /v1/models,POST v1/files"}, wantKey: "routes.passthrough[1]"},
		{name: "env max request bytes", env: map[string]string{"TOKENGATE_GRPC_MAX_REQUEST_BYTES": "0"}, wantKey: "grpc.max_request_bytes"},
		{name: "model ceiling zero", file: "testdata/bad_model.yaml", wantKey: "models.gpt-4.1.max_output_tokens"},
		{name: "model key misspelt", file: "testdata/bad_model_key.yaml", wantKey: "max_output_token"},
		{name: "env settled ttl under hold ttl", env: map[string]string{"TOKENGATE_QUOTA_SETTLED_TTL": "5m"}, wantKey: "quota.settled_ttl"},
		{name: "env file tokens", env: map[string]string{"TOKENGATE_QUOTA_FILE_TOKENS": "0"}, wantKey: "quota.file_tokens"},
		{name: "bare number duration", file: "testdata/bare_duration.yaml", wantKey: "hold_ttl"},
		{name: "env bare number duration", env: map[string]string{"TOKENGATE_QUOTA_PHASE_TIMEOUT": "150"}, wantKey: "phase_timeout"},
		{name: "env log level", env: map[string]string{"TOKENGATE_LOG_LEVEL": "loud"}, wantKey: "log.level"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			_, err := loadConfig(tt.file, nil, nil)
			if err == nil {
				t.Fatal("want an error")
			}
			if !strings.Contains(err.Error(), tt.wantKey) {
				t.Fatalf("error %q does not name %q", err, tt.wantKey)
			}
		})
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"redis://user:s3cret@redis:6379/0", "redis://user:xxxxx@redis:6379/0"},
		{"redis://:s3cret@redis:6379", "redis://:xxxxx@redis:6379"},
		{"redis://redis:6379/0?dial_timeout=1s", "redis://redis:6379/0?dial_timeout=1s"},
		{"rediss://u:p%40ss@redis:6380", "rediss://u:xxxxx@redis:6380"},
		{"redis+cluster://u:s3cret@h1:6379,h2:6379/?pool_size=5", "redis+cluster://u:xxxxx@h1:6379,h2:6379/?pool_size=5"},
		{"redis://:s3cret@h1:6379,redis://:s3cret@h2:6379", "redis://:xxxxx@h1:6379,redis://:xxxxx@h2:6379"},
		{"unix://u:s3cret@/run/redis.sock?db=1", "unix://u:xxxxx@/run/redis.sock?db=1"},
		{"not a url", "not a url"},
	}
	for _, tt := range tests {
		if got := redactURL(tt.in); got != tt.want {
			t.Errorf("redactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRoutesAndModelsFromTheFile(t *testing.T) {
	c, err := loadConfig("testdata/models.yaml", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var routes []string
	for _, r := range c.passthrough {
		routes = append(routes, r.String())
	}
	if strings.Join(routes, ",") != "GET /v1/models,GET /health" {
		t.Errorf("routes.passthrough = %q", routes)
	}
	// A dotted model name stays one name (viper would split it at the dot).
	for model, want := range map[string]int64{"gpt-4.1": 30000, "openai/gpt-4.1": 30000, "my-alias": 2000, "unknown": 1000, "gpt-4o": 16384} {
		if got, ok := c.ceilings.Lookup(model); !ok || got != want {
			t.Errorf("ceiling of %s = %d, %v; want %d", model, got, ok, want)
		}
	}
}

func TestRoutesDefaultAndFromTheEnvironment(t *testing.T) {
	c, err := loadConfig("", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.passthrough) != 1 || c.passthrough[0].String() != "GET /" || c.GRPC.MaxRequestBytes != 16<<20 {
		t.Fatalf("defaults: passthrough %v, max request bytes %d", c.passthrough, c.GRPC.MaxRequestBytes)
	}
	t.Setenv("TOKENGATE_ROUTES_PASSTHROUGH", "GET /v1/models,GET /health/liveliness")
	if c, err = loadConfig("", nil, nil); err != nil {
		t.Fatal(err)
	}
	if len(c.passthrough) != 2 || c.passthrough[1].String() != "GET /health/liveliness" {
		t.Fatalf("from the environment: %v", c.passthrough)
	}
}

func TestRedisClusterURL(t *testing.T) {
	t.Setenv("TOKENGATE_REDIS_URL", "redis+cluster://:pw@10.0.0.1:6379,10.0.0.2:6379")
	c, err := loadConfig("", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.redis.Cluster == nil || len(c.redis.Cluster.Addrs) != 2 || !c.redis.Cluster.ContextTimeoutEnabled {
		t.Fatalf("redis.url did not name a cluster of two seeds: %+v", c.redis)
	}
}
