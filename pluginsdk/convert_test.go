package pluginsdk

import (
	"reflect"
	"testing"

	"github.com/tonewall/tonewall/pluginsdk/internal/paymentpb"
)

func TestEnumMapsAreComplete(t *testing.T) {
	tests := []struct {
		name      string
		mapped    int
		wireNames int
	}{
		{"operation", len(operationToPB), len(paymentpb.Operation_name) - 1},
		{"outcome", len(outcomeToPB), len(paymentpb.Outcome_name) - 1},
		{"reason", len(reasonToPB), len(paymentpb.Reason_name)}, // ReasonNone is REASON_UNSPECIFIED
		{"error kind", len(kindToPB), len(paymentpb.ErrorKind_name) - 1},
	}
	for _, tt := range tests {
		if tt.mapped != tt.wireNames {
			t.Errorf("%s: %d Go values mapped, %d wire values", tt.name, tt.mapped, tt.wireNames)
		}
	}
	for name, m := range map[string]int{
		"operation": len(operationFromPB), "outcome": len(outcomeFromPB),
		"reason": len(reasonFromPB), "kind": len(kindFromPB),
	} {
		if m == 0 {
			t.Errorf("%s: empty inverse map", name)
		}
	}
}

func TestResultRoundTrip(t *testing.T) {
	for o := range outcomeToPB {
		for r := range reasonToPB {
			in := &Result{
				TransactionID: "tx-1", Outcome: o, Reason: r, ProviderCode: "code",
				ProviderMessage: "msg", ProviderReference: "pi_1", Token: "tok_1",
				Brand: "visa", Last4: "4242", ExpiryMonth: 3, ExpiryYear: 2030,
			}
			out := resultFromWire(resultToWire(in))
			if !reflect.DeepEqual(in, out) {
				t.Fatalf("round trip:\n in %+v\nout %+v", in, out)
			}
		}
	}
}

func TestResultFromWireIsSafe(t *testing.T) {
	tests := []struct {
		name string
		in   *Result
		want *Result
	}{
		{
			name: "reason outside the list crosses as processing_error",
			in:   &Result{Outcome: OutcomeDeclined, Reason: "fraud_suspected"},
			want: &Result{Outcome: OutcomeDeclined, Reason: ReasonProcessingError},
		},
		{
			name: "missing outcome reads as unknown",
			in:   &Result{Outcome: ""},
			want: &Result{Outcome: OutcomeUnknown},
		},
		{
			name: "made-up outcome reads as unknown",
			in:   &Result{Outcome: "maybe"},
			want: &Result{Outcome: OutcomeUnknown},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := resultFromWire(resultToWire(tt.in))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	if got := outcomeFromWire(paymentpb.Outcome(99)); got != OutcomeUnknown {
		t.Errorf("outcome 99 = %q, want unknown", got)
	}
}

func TestPaymentRoundTripSharesCardBytes(t *testing.T) {
	in := &PaymentRequest{
		TransactionID: "tx", IdempotencyKey: "key", Amount: Money{Minor: 1234, Currency: "GBP"},
		Reference: "ref", Channel: ChannelMOTO,
		Card: Card{
			Number: []byte("4242424242424242"), ExpiryMonth: 12, ExpiryYear: 2031,
			CVC: []byte("123"), Postcode: []byte("12345"), HolderName: "A N Other",
		},
		Metadata: map[string]string{"agent": "7"},
	}
	w := paymentToWire(in)
	if &w.Card.Number[0] != &in.Card.Number[0] || &w.Card.Cvc[0] != &in.Card.CVC[0] {
		t.Error("card bytes were copied on the way to the wire")
	}
	out := paymentFromWire(w)
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip:\n in %+v\nout %+v", in, out)
	}
	wipeWireCard(w.Card)
	for _, b := range [][]byte{in.Card.Number, in.Card.CVC, in.Card.Postcode} {
		for _, c := range b {
			if c != 0 {
				t.Fatalf("wipeWireCard left %q", b)
			}
		}
	}
	wipeWireCard(nil) // must not panic
}

func TestModifyStatusDescribeConfigureRoundTrip(t *testing.T) {
	m := &ModifyRequest{TransactionID: "tx", IdempotencyKey: "k", ProviderReference: "pi", Amount: Money{Minor: 5, Currency: "EUR"}, Reference: "r"}
	if got := modifyFromWire(modifyToWire(m)); !reflect.DeepEqual(m, got) {
		t.Errorf("modify: %+v != %+v", got, m)
	}
	for op := range operationToPB {
		s := &StatusRequest{TransactionID: "tx", ProviderReference: "pi", Operation: op}
		if got := statusFromWire(statusToWire(s)); !reflect.DeepEqual(s, got) {
			t.Errorf("status: %+v != %+v", got, s)
		}
	}
	d := &DescribeResponse{Name: "n", Version: "v", Operations: []Operation{OpSale, "bogus", OpStatus}, Brands: []string{"visa"}, Currencies: []string{"GBP"}}
	got := describeFromWire(describeToWire(d))
	if want := []Operation{OpSale, OpStatus}; !reflect.DeepEqual(got.Operations, want) {
		t.Errorf("describe operations = %v, want %v (unknown dropped)", got.Operations, want)
	}
	c := &ConfigureRequest{Settings: map[string]string{"a": "b"}, Secrets: map[string][]byte{"k": []byte("v")}}
	if got := configureFromWire(configureToWire(c)); !reflect.DeepEqual(c, got) {
		t.Errorf("configure: %+v != %+v", got, c)
	}
	if channelFromWire(channelToWire("")) != "" || channelFromWire(channelToWire(ChannelMOTO)) != ChannelMOTO {
		t.Error("channel round trip")
	}
}
