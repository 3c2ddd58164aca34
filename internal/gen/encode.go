package gen

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/benefits-ledger/ledger/domain"
)

// envelope is an input as one CloudEvents structured envelope, in the
// contract's attribute order; data is the input's Data struct, whose JSON
// tags are its field names (optional fields omitted when empty).
type envelope struct {
	SpecVersion string      `json:"specversion"`
	ID          string      `json:"id"`
	Source      string      `json:"source"`
	Type        string      `json:"type"`
	Time        string      `json:"time"` // RFC 3339, whole seconds: the generator's clock
	Data        domain.Data `json:"data"`
}

// appendLine encodes an input as one CloudEvents structured envelope (no
// trailing newline) with encoding/json, HTML characters unescaped. The line
// is derived from the Input itself, so the Input the generator judges and
// the line it emits cannot disagree; the tests parse the lines back and
// compare fingerprints, and TestEncodingUnchanged pins the output byte for
// byte.
func appendLine(b []byte, in *domain.Input) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(envelope{SpecVersion: "1.0", ID: in.ID, Source: in.Source, Type: in.Type,
		Time: in.Time.Format(time.RFC3339), Data: in.Data}); err != nil {
		// Only an unsupported value fails, and Data holds strings and integers.
		panic("gen: encoding " + in.Type + ": " + err.Error())
	}
	return append(b, bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})...)
}
