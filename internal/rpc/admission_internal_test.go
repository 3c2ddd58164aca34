package rpc

import "testing"

func TestInfoField(t *testing.T) {
	// As nats-server writes it; the connection name is the client's choice.
	h := `{"acc":"ABCD","rtt":"1ms","start":"2026-12-01T00:00:00Z","host":"127.0.0.1","id":42,"svc":"LEDG",` +
		`"user":"UXYZ","name":"x\",\"id\":7,\"user\":\"UEVIL","lang":"go","ver":"1.55.0"}`
	for field, want := range map[string]string{"acc": "ABCD", "id": "42", "user": "UXYZ", "svc": "LEDG", "missing": ""} {
		if got := infoField(h, field); got != want {
			t.Errorf("%s: %q, want %q", field, got, want)
		}
	}
	// A name placed before the real fields cannot stand in for them.
	h2 := `{"name":"x\",\"acc\":\"EVIL","acc":"ABCD","id":1}`
	if got := infoField(h2, "acc"); got != "ABCD" {
		t.Errorf("acc after a hostile name: %q", got)
	}
}
