package capture

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/tonewall/tonewall/controller/card"
)

// Fuzz input encoding. Byte 0 picks the configuration; then each byte is an
// operation, some followed by an argument byte:
//
//	op%16  0 Start  1 Armed  2 ArmFailed
//	       3–7 one key: arg%13 indexes "0123456789#*x", op/16%4 the source,
//	           the clock moves on by a second argument in milliseconds
//	       8 a canned entry (arg indexes fuzzCanned), 300 ms a key
//	       9 the last key again from another source, arg ms later
//	       10 fire the inter-digit timer  11 fire the field timer
//	       12 a timer with generation arg (usually stale)
//	       13 RestartField (arg%5 indexes fuzzFields)  14 Cancel  15 HangUp
var (
	fuzzSources = []Source{SourceInband, SourceRTP, SourceOther, "odd"}
	fuzzFields  = []Field{FieldPAN, FieldExpiry, FieldCVV, FieldPostcode, "zip"}
	fuzzCanned  = []string{visaPAN + "#", amexPAN, mcPAN, expiry, visaCVV, amexCVV, "90210#",
		"4242424242424241#", "1126", "*", "#", "6011111111111117#"}
	fuzzOrders = [][]Field{
		{FieldPAN, FieldExpiry, FieldCVV}, {FieldPAN, FieldCVV, FieldExpiry},
		{FieldExpiry, FieldPAN, FieldCVV}, {FieldExpiry, FieldCVV, FieldPAN},
		{FieldCVV, FieldPAN, FieldExpiry}, {FieldCVV, FieldExpiry, FieldPAN},
	}
)

// fuzzConfig decodes the configuration byte: bits 0–2 the field order, bit 3
// the postcode, bit 4 Visa and Mastercard only, bits 5–7 fewer attempts.
func fuzzConfig(b byte) Config {
	cfg := Config{Fields: append([]Field(nil), fuzzOrders[int(b&7)%6]...), MaxAttempts: 3 - int(b>>5)%3}
	if b&0x08 != 0 {
		cfg.Fields = append(cfg.Fields, FieldPostcode)
	}
	if b&0x10 != 0 {
		cfg.Accepted = []card.Brand{card.Visa, card.Mastercard}
	}
	return cfg
}

// fuzzInputs decodes the operations.
func fuzzInputs(data []byte) []Input {
	var in []Input
	now := day
	var last Digit
	i := 0
	next := func() byte {
		if i < len(data) {
			i++
			return data[i-1]
		}
		return 0
	}
	for i < len(data) {
		op := next()
		src := fuzzSources[int(op/16)%4]
		switch op % 16 {
		case 0:
			in = append(in, Start{Today: day})
		case 1:
			in = append(in, Armed{})
		case 2:
			in = append(in, ArmFailed{Reason: "fuzz"})
		case 3, 4, 5, 6, 7:
			k := "0123456789#*x"[int(next())%13]
			now = now.Add(time.Duration(next()) * time.Millisecond)
			last = Digit{Digit: k, Source: src, At: now}
			in = append(in, last)
		case 8:
			s := fuzzCanned[int(next())%len(fuzzCanned)]
			for j := range len(s) {
				now = now.Add(keyGap)
				last = Digit{Digit: s[j], Source: src, At: now}
				in = append(in, last)
			}
		case 9:
			in = append(in, Digit{Digit: last.Digit, Source: other(last.Source), At: last.At.Add(time.Duration(next()) * time.Millisecond)})
		case 10:
			in = append(in, fire{timer: TimerInterDigit})
		case 11:
			in = append(in, fire{timer: TimerField})
		case 12:
			t := TimerInterDigit
			if op/16%2 == 1 {
				t = TimerField
			}
			in = append(in, TimerFired{Timer: t, Gen: uint64(next())})
		case 13:
			in = append(in, RestartField{Field: fuzzFields[int(next())%len(fuzzFields)]})
		case 14:
			in = append(in, Cancel{})
		case 15:
			in = append(in, HangUp{})
		}
	}
	return in
}

// digitRun returns the first run of five or more ASCII digits in s.
func digitRun(s string) string {
	start := -1
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] >= '0' && s[i] <= '9' {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 && i-start >= 5 {
			return s[start:i]
		}
		start = -1
	}
	return ""
}

// FuzzEngine drives the engine with arbitrary inputs. It must never panic;
// no action may show five digits in a row (the last four are the most any
// output may hold: timers' durations and generations aside); Finished comes
// once and last; nothing comes after it; an arming failure never disarms; and
// at the end every buffer is zeroed, by the engine or by Card.Wipe.
func FuzzEngine(f *testing.F) {
	f.Add([]byte{0x00, 0, 1, 8, 0, 8, 3, 8, 4})
	f.Add([]byte{0x00, 0, 1, 8, 1, 8, 3, 8, 5})
	f.Add([]byte{0x28, 0, 1, 8, 4, 4, 10, 0, 8, 1, 8, 3, 8, 5, 8, 6})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		r := newRun(t, fuzzConfig(data[0]))
		arrays := backing(r.e)
		arms, disarms := 0, 0
		for _, in := range fuzzInputs(data[1:]) {
			terminal := r.e.State().Terminal()
			acts := r.step(in)
			if terminal && acts != nil {
				t.Fatalf("input %v after the end gave %v", in, acts)
			}
			for j, a := range acts {
				switch a := a.(type) {
				case Arm:
					arms++
				case Disarm:
					disarms++
				case Finished:
					if j != len(acts)-1 {
						t.Fatalf("Finished is not last: %v", acts)
					}
				case Progress:
					if a.Event.Last4 != "" && a.Event.Type != EventFieldValid && a.Event.Type != EventCardComplete {
						t.Fatalf("last four in %v", a.Event)
					}
				case StartTimer:
					continue // durations and generations are numbers, not card data
				}
				js, err := json.Marshal(a)
				if err != nil {
					t.Fatal(err)
				}
				for _, s := range []string{fmt.Sprintf("%v", a), fmt.Sprintf("%+v", a), fmt.Sprintf("%#v", a), string(js)} {
					if run := digitRun(s); run != "" {
						t.Fatalf("action shows %d digits in a row: %s", len(run), s)
					}
				}
			}
		}
		if arms > 1 || disarms > 1 || disarms > arms {
			t.Fatalf("%d Arm, %d Disarm", arms, disarms)
		}
		fin, done := r.finished()
		if !done {
			return
		}
		if fin.Outcome == OutcomeArmingFailed && disarms != 0 {
			t.Fatalf("disarmed after an arming failure")
		}
		if c := r.card(); c != nil {
			if !card.Luhn(c.PAN.Bytes()) || c.Last4 != string(c.PAN.Bytes()[c.PAN.Len()-4:]) {
				t.Fatalf("card with a bad PAN handed over")
			}
			if _, _, err := card.ValidateExpiry(c.Expiry.Bytes(), day); err != nil {
				t.Fatalf("card with a bad expiry handed over: %v", err)
			}
			if err := card.ValidateCVV(c.CVV.Bytes(), c.Brand); err != nil {
				t.Fatalf("card with a bad CVV handed over: %v", err)
			}
			c.Wipe()
		}
		assertWiped(t, r.e, arrays)
	})
}
