package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
		check   func(t *testing.T, c *config)
	}{
		{
			name: "defaults",
			check: func(t *testing.T, c *config) {
				if c.opts.ESLAddr != "127.0.0.1:8084" || c.opts.APIAddr != "127.0.0.1:8080" {
					t.Errorf("addresses %q %q", c.opts.ESLAddr, c.opts.APIAddr)
				}
				if strings.Join(c.opts.Fields, ",") != "pan,expiry,cvv" {
					t.Errorf("fields %v", c.opts.Fields)
				}
			},
		},
		{
			name: "environment fills unset flags",
			env:  map[string]string{"TONEWALL_ESL_ADDR": "0.0.0.0:9000", "TONEWALL_INTER_DIGIT_TIMEOUT": "7s", "TONEWALL_FIELDS": "pan,expiry,cvv,postcode"},
			check: func(t *testing.T, c *config) {
				if c.opts.ESLAddr != "0.0.0.0:9000" || c.opts.InterDigit != 7*time.Second {
					t.Errorf("got %q %v", c.opts.ESLAddr, c.opts.InterDigit)
				}
				if len(c.opts.Fields) != 4 {
					t.Errorf("fields %v", c.opts.Fields)
				}
			},
		},
		{
			name: "command line wins over environment",
			args: []string{"--esl-addr", "127.0.0.1:7000"},
			env:  map[string]string{"TONEWALL_ESL_ADDR": "0.0.0.0:9000"},
			check: func(t *testing.T, c *config) {
				if c.opts.ESLAddr != "127.0.0.1:7000" {
					t.Errorf("got %q", c.opts.ESLAddr)
				}
			},
		},
		{name: "bad environment value", env: map[string]string{"TONEWALL_LINGER": "soon"}, wantErr: "TONEWALL_LINGER"},
		{name: "bad log format", args: []string{"--log-format", "xml"}, wantErr: "log-format"},
		{name: "stray argument", args: []string{"serve"}, wantErr: "unexpected argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			c, err := parseFlags(tt.args, env(tt.env), &out)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestHelpExplainsEveryFlag(t *testing.T) {
	var out bytes.Buffer
	c, err := parseFlags([]string{"--help"}, env(nil), &out)
	if err != nil || c != nil {
		t.Fatalf("help: %v %v", c, err)
	}
	for _, want := range []string{"--esl-addr", "--api-addr", "--linger", "--mask-recording", "--fields", "TONEWALL_ESL_ADDR", "Secrets are never taken from flags"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q", want)
		}
	}
}
