// Package media holds the FreeSWITCH command sequences that keep a
// customer's key presses away from the agent and the recordings while a
// card is captured, and that play prompts to the customer.
//
// The order and flags follow what was verified on FreeSWITCH 1.10.12:
// in-band detection (spandsp_start_dtmf) must already run on the customer
// leg before its audio is muted, displace needs the "m" (mix) flag or the
// customer stops hearing the agent, and uuid_drop_dtmf needs all four words.
// Every arming step has an exact inverse; disarming runs them in reverse.
package media

import (
	"fmt"
	"path"
	"strings"
)

// DefaultTone is the flat tone the agent hears while the customer keys the
// card: 440 Hz, 300 ms on, 700 ms off, until stopped.
const DefaultTone = "tone_stream://%(300,700,440);loops=-1"

// Step is one arming step: the api command that arms it and the one that
// undoes it. Both are api command lines without the "api " prefix.
type Step struct {
	// Name is a short, stable name for logs and errors.
	Name string
	// Arm is the command that applies the step.
	Arm string
	// Disarm is the exact inverse of Arm.
	Disarm string
}

// Masking describes one call's masking.
type Masking struct {
	// Customer is the customer leg's uuid (A).
	Customer string
	// Agent is the agent leg's uuid (B).
	Agent string
	// Tone is the feedback the agent hears; DefaultTone if empty.
	Tone string
	// RecordingPath is the path FreeSWITCH records the customer leg to,
	// exactly as given to uuid_record start; empty if not recording.
	RecordingPath string
	// MaskRecording also masks that recording. It is defence in depth:
	// the recording already receives the muted audio, and masking blanks
	// the agent's voice in it for the whole capture.
	MaskRecording bool
}

// Steps returns the arming steps in the order they must be applied.
// Disarming applies their Disarm commands in reverse order.
func (m Masking) Steps() []Step {
	tone := m.Tone
	if tone == "" {
		tone = DefaultTone
	}
	steps := []Step{
		{
			Name:   "stop-dtmf-relay",
			Arm:    fmt.Sprintf("uuid_drop_dtmf %s on mask_digits none", m.Agent),
			Disarm: fmt.Sprintf("uuid_drop_dtmf %s off mask_digits none", m.Agent),
		},
		{
			Name:   "mute-customer",
			Arm:    fmt.Sprintf("uuid_audio %s start read mute 1", m.Customer),
			Disarm: fmt.Sprintf("uuid_audio %s stop", m.Customer),
		},
		{
			Name:   "agent-tone",
			Arm:    fmt.Sprintf("uuid_displace %s start %s 0 m", m.Agent, tone),
			Disarm: fmt.Sprintf("uuid_displace %s stop %s", m.Agent, tone),
		},
	}
	if m.MaskRecording && m.RecordingPath != "" {
		steps = append(steps, Step{
			Name:   "mask-recording",
			Arm:    fmt.Sprintf("uuid_record %s mask %s", m.Customer, m.RecordingPath),
			Disarm: fmt.Sprintf("uuid_record %s unmask %s", m.Customer, m.RecordingPath),
		})
	}
	return steps
}

// Valid reports whether the masking names both legs.
func (m Masking) Valid() error {
	if m.Customer == "" || m.Agent == "" {
		return fmt.Errorf("media: masking needs both legs (customer %q, agent %q)", m.Customer, m.Agent)
	}
	if strings.ContainsAny(m.RecordingPath, " \n\r") {
		return fmt.Errorf("media: recording path must not contain spaces or newlines")
	}
	return nil
}

// Prompt names one recorded prompt.
type Prompt string

// The prompts the controller plays. Files are <dir>/<language>/tonewall-<name>.wav.
const (
	PromptEnterPAN      Prompt = "enter-card-number"
	PromptEnterExpiry   Prompt = "enter-expiry"
	PromptEnterCVV      Prompt = "enter-security-code"
	PromptEnterPostcode Prompt = "enter-postcode"
	PromptInvalid       Prompt = "invalid-entry"
	PromptTimeout       Prompt = "timeout"
	PromptRestart       Prompt = "restart"
	PromptThankYou      Prompt = "thank-you"
	PromptFailed        Prompt = "capture-failed"
)

// Prompts locates prompt files as FreeSWITCH sees them.
type Prompts struct {
	// Dir is the prompt directory on the FreeSWITCH host.
	Dir string
	// Language is the default language sub-directory, e.g. "en".
	Language string
}

// File returns the path of prompt p in language lang (the default if empty).
func (p Prompts) File(prompt Prompt, lang string) string {
	if lang == "" {
		lang = p.Language
	}
	if lang == "" {
		lang = "en"
	}
	return path.Join(p.Dir, lang, "tonewall-"+string(prompt)+".wav")
}

// PlayToCustomer returns the api command that plays file to the customer
// leg, mixed so the agent is not cut off (uuid_broadcast would suspend the
// bridge).
func PlayToCustomer(customer, file string) string {
	return fmt.Sprintf("uuid_displace %s start %s 0 m", customer, file)
}

// StopToCustomer stops a prompt started with PlayToCustomer.
func StopToCustomer(customer, file string) string {
	return fmt.Sprintf("uuid_displace %s stop %s", customer, file)
}
