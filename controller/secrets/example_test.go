package secrets_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/tonewall/tonewall/controller/secrets"
)

func ExampleNewVault() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))

	src, err := secrets.NewVault(ctx, secrets.VaultConfig{
		Address: "https://vault.internal:8200",
		Paths: map[string]string{
			"provider/stripe": "tonewall/providers/stripe",
			"webhook/crm":     "tonewall/webhooks/crm",
			"api/keys":        "tonewall/api-keys",
		},
		Auth: secrets.VaultAuth{
			RoleIDFile:   "/run/tonewall/vault-role-id",
			SecretIDFile: "/run/tonewall/vault-secret-id",
		},
	}, log)
	if err != nil {
		log.Error("secrets", "error", err)
		return
	}
	defer src.Close()

	// Use the current key now, and switch when it is rotated.
	stripe, err := src.Get(ctx, "provider/stripe")
	if err != nil {
		log.Error("stripe credentials", "error", err)
		return
	}
	fmt.Println("loaded", stripe) // prints the name, version and keys; never the values
	unsubscribe := src.Subscribe("provider/stripe", func(s secrets.Secret) {
		log.Info("stripe key rotated", "secret", s)
	})
	defer unsubscribe()
}

func ExampleSecret_String() {
	s := secrets.Secret{Name: "webhook/crm", Version: 3, Data: secrets.Values{"signing_secret": []byte("whsec_...")}}
	fmt.Println(s)
	fmt.Printf("%#v\n", s)
	// Output:
	// webhook/crm v3 {signing_secret:REDACTED}
	// secrets.Secret{Name:"webhook/crm", Version:3, Data:{signing_secret:REDACTED}}
}
