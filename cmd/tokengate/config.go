package main

import (
	"errors"
	"fmt"
	"net"
	"reflect"
	"strings"
	"time"
	_ "time/tzdata" // quota.timezone must load in minimal containers without /usr/share/zoneinfo

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"

	"github.com/iasolaris/tokengate/extproc"
	"github.com/iasolaris/tokengate/extproc/ceiling"
	"github.com/iasolaris/tokengate/quota/redisledger"
)

// maxRequestBytesLimit bounds grpc.max_request_bytes: the gRPC server
// accepts twice the limit, and a protobuf message must stay under 2 GiB.
const maxRequestBytesLimit = 512 << 20

// Config is tokengate's whole configuration: one YAML file plus TOKENGATE_*
// environment variables (TOKENGATE_QUOTA_ENFORCEMENT sets quota.enforcement).
// Every key has a default, so an empty configuration runs on embedded
// in-memory stores.
type Config struct {
	GRPC struct {
		Listen          string `mapstructure:"listen"`
		MaxRequestBytes int64  `mapstructure:"max_request_bytes"`
	} `mapstructure:"grpc"`
	Admin struct {
		Listen string `mapstructure:"listen"`
	} `mapstructure:"admin"`
	Redis struct {
		URL       string `mapstructure:"url"`
		KeyPrefix string `mapstructure:"key_prefix"`
		// RequireNoEviction makes a maxmemory-policy other than
		// noeviction an error (at start, and in /readyz); false only warns.
		RequireNoEviction bool `mapstructure:"require_noeviction"`
	} `mapstructure:"redis"`
	Quota struct {
		DefaultAllowance     int64         `mapstructure:"default_allowance"`
		Enforcement          string        `mapstructure:"enforcement"`
		Timezone             string        `mapstructure:"timezone"`
		FailMode             string        `mapstructure:"fail_mode"`
		HoldTTL              time.Duration `mapstructure:"hold_ttl"`
		SettledTTL           time.Duration `mapstructure:"settled_ttl"`
		FileTokens           int64         `mapstructure:"file_tokens"`
		CompletionAllowance  int64         `mapstructure:"completion_allowance"`
		DefaultCompletionCap int64         `mapstructure:"default_completion_cap"`
		PhaseTimeout         time.Duration `mapstructure:"phase_timeout"`
	} `mapstructure:"quota"`
	Identity struct {
		UserHeader string `mapstructure:"user_header"`
	} `mapstructure:"identity"`
	RateLimit struct {
		RPM int `mapstructure:"rpm"`
	} `mapstructure:"ratelimit"`
	Upstream struct {
		Authorization string `mapstructure:"authorization"`
	} `mapstructure:"upstream"`
	Routes struct {
		Passthrough []string `mapstructure:"passthrough"`
	} `mapstructure:"routes"`
	// Models holds per-model settings keyed by model name, "*" for models
	// no table knows.
	Models  map[string]ModelConfig `mapstructure:"models"`
	Metrics struct {
		Models []string `mapstructure:"models"`
	} `mapstructure:"metrics"`
	Log struct {
		Level  string `mapstructure:"level"`
		Format string `mapstructure:"format"`
	} `mapstructure:"log"`
	Dev struct {
		Listen   string `mapstructure:"listen"`
		Upstream string `mapstructure:"upstream"`
	} `mapstructure:"dev"`

	location    *time.Location
	redis       redisledger.Endpoint
	passthrough []extproc.Route
	ceilings    *ceiling.Table
}

// ModelConfig is what the configuration may say about one model.
type ModelConfig struct {
	// MaxOutputTokens is the model's output ceiling, overriding the embedded
	// table: hard enforcement never holds or writes a larger cap.
	MaxOutputTokens int64 `mapstructure:"max_output_tokens"`
}

// defaults lists every key with its default; viper only maps environment
// variables onto keys it knows, so a key missing here could not be set from
// the environment.
var defaults = map[string]any{
	"grpc.listen":                  ":50051",
	"grpc.max_request_bytes":       extproc.DefaultMaxRequestBytes,
	"admin.listen":                 ":8081",
	"redis.url":                    "",
	"redis.key_prefix":             "tokengate:",
	"redis.require_noeviction":     true,
	"quota.default_allowance":      1_000_000,
	"quota.enforcement":            "soft",
	"quota.timezone":               "UTC",
	"quota.fail_mode":              "open",
	"quota.hold_ttl":               "10m",
	"quota.settled_ttl":            "24h",
	"quota.file_tokens":            8192,
	"quota.completion_allowance":   256,
	"quota.default_completion_cap": 4096,
	"quota.phase_timeout":          "150ms",
	"identity.user_header":         "x-user-email",
	"ratelimit.rpm":                60,
	"upstream.authorization":       "",
	"routes.passthrough":           []string{"GET /"},
	"models":                       map[string]any{},
	"metrics.models":               []string{},
	"log.level":                    "info",
	"log.format":                   "json",
	"dev.listen":                   ":10000",
	"dev.upstream":                 "",
}

// loadConfig reads the file (if any) and the environment, then validates.
// commandDefaults replace defaults for one command; flags override
// everything. Errors name the offending key.
func loadConfig(file string, commandDefaults, flags map[string]any) (*Config, error) {
	v := viper.New()
	for k, d := range defaults {
		v.SetDefault(k, d)
	}
	for k, d := range commandDefaults {
		v.SetDefault(k, d)
	}
	v.SetEnvPrefix("TOKENGATE")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	if file != "" {
		v.SetConfigFile(file)
		if err := v.ReadInConfig(); err != nil {
			return nil, fmt.Errorf("config %s: %w", file, err)
		}
	}
	for k, f := range flags {
		v.Set(k, f)
	}
	var c Config
	if err := decode(v, &c); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return &c, nil
}

// decode fills c from every source viper merged. It is viper's
// UnmarshalExact except for models: viper splits keys on dots, so a model
// named gpt-4.1 would become models → gpt-4 → 1; the models map is taken
// whole instead, its names intact.
func decode(v *viper.Viper, c *Config) error {
	settings := v.AllSettings()
	settings["models"] = v.Get("models")
	d, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		Result: c,
		// Unknown keys are errors: a misspelt key that silently keeps its
		// default is how a quota ends up unenforced.
		ErrorUnused:      true,
		WeaklyTypedInput: true,
		// As viper decodes: "10m" is a duration, "a,b" from the
		// environment is a list.
		DecodeHook: mapstructure.ComposeDecodeHookFunc(
			durationsHaveUnits,
			mapstructure.StringToTimeDurationHookFunc(),
			mapstructure.StringToSliceHookFunc(","),
		),
	})
	if err != nil {
		return err
	}
	return d.Decode(settings)
}

// durationsHaveUnits refuses a bare number where a duration goes: YAML's
// hold_ttl: 600 would otherwise decode as 600 nanoseconds, and a ledger
// that forgets settlements after 86 µs charges a retried one twice.
func durationsHaveUnits(from, to reflect.Type, data any) (any, error) {
	if to != reflect.TypeFor[time.Duration]() {
		return data, nil
	}
	switch from.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return nil, fmt.Errorf("want a duration with a unit, such as \"10m\" or \"150ms\", got the bare number %v", data)
	}
	return data, nil
}

func (c *Config) validate() error {
	var errs []error
	bad := func(key string, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{key}, args...)...))
	}
	for key, addr := range map[string]string{"grpc.listen": c.GRPC.Listen, "admin.listen": c.Admin.Listen, "dev.listen": c.Dev.Listen} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			bad(key, "want host:port, got %q", addr)
		}
	}
	if c.Redis.URL != "" {
		e, err := redisledger.ParseURL(c.Redis.URL)
		if err != nil {
			bad("redis.url", "%v", err)
		}
		c.redis = e
	}
	// A brace in the prefix would become every key's hash tag and put all
	// accounts in one Redis Cluster slot.
	if strings.ContainsAny(c.Redis.KeyPrefix, "{}") {
		bad("redis.key_prefix", "must not contain { or }, got %q", c.Redis.KeyPrefix)
	}
	if c.Quota.DefaultAllowance < 0 {
		bad("quota.default_allowance", "must not be negative, got %d", c.Quota.DefaultAllowance)
	}
	if c.Quota.Enforcement != "soft" && c.Quota.Enforcement != "hard" {
		bad("quota.enforcement", "want soft or hard, got %q", c.Quota.Enforcement)
	}
	if c.Quota.FailMode != "open" && c.Quota.FailMode != "closed" {
		bad("quota.fail_mode", "want open or closed, got %q", c.Quota.FailMode)
	}
	loc, err := time.LoadLocation(c.Quota.Timezone)
	if err != nil {
		bad("quota.timezone", "unknown time zone %q", c.Quota.Timezone)
	}
	c.location = loc
	if c.Quota.HoldTTL <= 0 {
		bad("quota.hold_ttl", "must be positive, got %v", c.Quota.HoldTTL)
	}
	// A settlement retried, or a late one for a hold that expired, is only
	// recognised while its request is remembered: at least as long as a
	// hold may live.
	if c.Quota.SettledTTL < c.Quota.HoldTTL {
		bad("quota.settled_ttl", "must be at least quota.hold_ttl (%v), got %v", c.Quota.HoldTTL, c.Quota.SettledTTL)
	}
	if c.Quota.FileTokens <= 0 {
		bad("quota.file_tokens", "must be positive, got %d", c.Quota.FileTokens)
	}
	if c.Quota.CompletionAllowance < 0 {
		bad("quota.completion_allowance", "must not be negative, got %d", c.Quota.CompletionAllowance)
	}
	if c.Quota.DefaultCompletionCap <= 0 {
		bad("quota.default_completion_cap", "must be positive, got %d", c.Quota.DefaultCompletionCap)
	}
	if c.Quota.PhaseTimeout <= 0 {
		bad("quota.phase_timeout", "must be positive, got %v", c.Quota.PhaseTimeout)
	}
	if h := c.Identity.UserHeader; h == "" || h != strings.ToLower(h) || strings.ContainsAny(h, " :\t") {
		bad("identity.user_header", "want a lower-case header name, got %q", h)
	}
	if c.RateLimit.RPM < 0 {
		bad("ratelimit.rpm", "must not be negative (0 turns it off), got %d", c.RateLimit.RPM)
	}
	for i, m := range c.Metrics.Models {
		if m == "" || m == "other" || strings.ContainsAny(m, "/ \t") {
			bad(fmt.Sprintf("metrics.models[%d]", i), "want a model name without provider prefix, got %q", m)
		}
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "want debug, info, warn or error, got %q", c.Log.Level)
	}
	// Envoy buffers the request body and sends it in one message; with its
	// buffer limit at this value or below, every body either fits or is
	// refused by Envoy itself (envoy-ext-proc.md E20, E66).
	if n := c.GRPC.MaxRequestBytes; n <= 0 || n > maxRequestBytesLimit {
		bad("grpc.max_request_bytes", "want 1 to %d bytes, got %d", maxRequestBytesLimit, n)
	}
	c.passthrough = c.passthrough[:0]
	for i, s := range c.Routes.Passthrough {
		r, err := extproc.ParseRoute(s)
		if err != nil {
			bad(fmt.Sprintf("routes.passthrough[%d]", i), "%v", err)
			continue
		}
		c.passthrough = append(c.passthrough, r)
	}
	ceilings := make(map[string]int64, len(c.Models))
	for name, m := range c.Models {
		if m.MaxOutputTokens < 0 || (m.MaxOutputTokens == 0 && name != "*") {
			bad(fmt.Sprintf("models.%s.max_output_tokens", name), "want a positive number of tokens, got %d", m.MaxOutputTokens)
		}
		ceilings[name] = m.MaxOutputTokens
	}
	if t, err := ceiling.New(ceilings); err == nil {
		c.ceilings = t
	}
	if c.Log.Format != "json" && c.Log.Format != "text" {
		bad("log.format", "want json or text, got %q", c.Log.Format)
	}
	return errors.Join(errs...)
}
