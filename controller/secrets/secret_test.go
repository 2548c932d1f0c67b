package secrets_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/tonewall/tonewall/controller/secrets"
)

func TestSecretNeverPrintsValues(t *testing.T) {
	const value = "sk_live_REDACTIONCANARY42"
	sec := secrets.Secret{
		Name:    "provider/stripe",
		Version: 7,
		Data:    secrets.Values{"api_key": []byte(value), "account": []byte("acct_REDACTIONCANARY")},
	}
	wrapper := struct {
		Secret secrets.Secret
		Ptr    *secrets.Secret
		Data   secrets.Values
	}{sec, &sec, sec.Data}

	jsonOf := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	logOf := func(v any, text bool) string {
		var buf bytes.Buffer
		var h slog.Handler = slog.NewJSONHandler(&buf, nil)
		if text {
			h = slog.NewTextHandler(&buf, nil)
		}
		slog.New(h).Info("msg", "secret", v)
		return buf.String()
	}

	tests := []struct {
		name string
		out  string
		want string // a fragment the redacted form must contain
	}{
		{"%v", fmt.Sprintf("%v", sec), "provider/stripe v7"},
		{"%+v", fmt.Sprintf("%+v", sec), "api_key:REDACTED"},
		{"%#v", fmt.Sprintf("%#v", sec), `secrets.Secret{Name:"provider/stripe"`},
		{"%s", fmt.Sprintf("%s", sec), "account:REDACTED"},
		{"%q", fmt.Sprintf("%q", sec), `"provider/stripe v7`},
		{"%x", fmt.Sprintf("%x", sec), "REDACTED"},
		{"%d", fmt.Sprintf("%d", sec), "REDACTED"},
		{"pointer %v", fmt.Sprintf("%v", &sec), "REDACTED"},
		{"String", sec.String(), "REDACTED"},
		{"GoString", sec.GoString(), "REDACTED"},
		{"Data %v", fmt.Sprintf("%v", sec.Data), "api_key:REDACTED"},
		{"Data %#v", fmt.Sprintf("%#v", sec.Data), "secrets.Values{"},
		{"Data %x", fmt.Sprintf("%x", sec.Data), "REDACTED"},
		{"struct %+v", fmt.Sprintf("%+v", wrapper), "REDACTED"},
		{"struct %#v", fmt.Sprintf("%#v", wrapper), "REDACTED"},
		{"json", jsonOf(sec), `"keys":["account","api_key"]`},
		{"json data", jsonOf(sec.Data), `"api_key":"REDACTED"`},
		{"json struct", jsonOf(wrapper), `"version":7`},
		{"slog json", logOf(sec, false), `"version":7`},
		{"slog text", logOf(sec, true), "secret.name=provider/stripe"},
		{"slog data", logOf(sec.Data, false), `["account","api_key"]`},
		{"error %v", fmt.Errorf("using %v: %w", sec, errors.New("x")).Error(), "REDACTED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if strings.Contains(tt.out, "CANARY") {
				t.Errorf("value leaked: %s", tt.out)
			}
			if !strings.Contains(tt.out, tt.want) {
				t.Errorf("got %s, want it to contain %s", tt.out, tt.want)
			}
		})
	}
}

func TestSecretValueAndClone(t *testing.T) {
	sec := secrets.Secret{Name: "api/keys", Version: 1, Data: secrets.Values{"admin": []byte("tw_abc")}}
	if v, ok := sec.Value("admin"); !ok || v != "tw_abc" {
		t.Fatalf("Value(admin) = %q, %v", v, ok)
	}
	if _, ok := sec.Value("missing"); ok {
		t.Fatal("Value(missing) reported ok")
	}
	c := sec.Clone()
	c.Data["admin"][0] = 'X'
	if v, _ := sec.Value("admin"); v != "tw_abc" {
		t.Fatalf("changing a clone changed the original: %q", v)
	}
	if !sec.Data.Equal(secrets.Values{"admin": []byte("tw_abc")}) || sec.Data.Equal(c.Data) {
		t.Fatal("Equal disagrees with the contents")
	}
}
