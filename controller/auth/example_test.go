package auth_test

import (
	"fmt"

	"github.com/tonewall/tonewall/controller/auth"
	"github.com/tonewall/tonewall/controller/secrets"
)

// The API keys come from the secret store: a secret whose keys are key ids
// and whose values are the tokens. Its Data is passed as it is, at start
// and at every rotation.
func ExampleKeys_Replace() {
	v1 := secrets.Secret{Name: "api/keys", Version: 1, Data: secrets.Values{"crm": []byte("crm-token-0123456789abcdefghij")}}
	keys, err := auth.NewKeys(v1.Data)
	if err != nil {
		panic(err)
	}
	// An operator writes version 2; the subscription hands it over.
	v2 := secrets.Secret{Name: "api/keys", Version: 2, Data: secrets.Values{"crm": []byte("crm-token-rotated-ZYXWVUTSRQPONM")}}
	if err := keys.Replace(v2.Data); err != nil {
		panic(err)
	}
	_, errOld := keys.Verify("crm-token-0123456789abcdefghij")
	p, errNew := keys.Verify("crm-token-rotated-ZYXWVUTSRQPONM")
	fmt.Println(errOld != nil, p.KeyID, errNew)
	// Output: true crm <nil>
}
