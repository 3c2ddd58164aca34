package domain

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestValidJSON: validJSON reports what json.Valid reports, on the grammar's
// edges and on every scenario's input lines.
func TestValidJSON(t *testing.T) {
	cases := []string{
		``, ` `, `{}`, `[]`, `""`, `0`, `-0`, `1`, `-`, `01`, `-01`, `1.`, `.1`, `1.5`, `1e`, `1e+`, `1e5`, `1E-5`, `1.5e+10`, `-1.0E3`,
		`+1`, `1x`, `0x10`, `Infinity`, `NaN`, `true`, `false`, `null`, `tru`, `truex`, `nul`, `True`, `{} `, ` {}`, "\t{}\r\n", `{}{}`, `{} {}`, `[] x`,
		`{"a":1}`, `{"a":1,}`, `{,"a":1}`, `{"a"}`, `{"a":}`, `{"a" : 1 , "b" : [ 1 , 2 ] }`, `{a:1}`, `{'a':1}`, `{"a":1 "b":2}`, `{"a":1,"a":2}`,
		`[1,]`, `[,1]`, `[1 2]`, `[1;2]`, `{"a":1;"b":2}`, `{"a";1}`, `[1:2]`, `{"a":1]`, `[1}`, `[[[]]]`, `[[[]]`, `[]]`, `{"a":{"b":{"c":[true,false,null]}}}`, `{"a":[}`, `{]`, `[}`,
		`"\"\\\/\b\f\n\r\t"`, `"\u00e9\uD83D\uDE00"`, `"\uZZZZ"`, `"\u12"`, `"\u12G4"`, `"\x"`, `"\'"`, `"\`, `"abc`, `"a` + "\x00" + `b"`, `"a` + "\x1f" + `b"`,
		`"a` + "\x7f" + `b"`, `"é"`, "\"\xff\"", "\xff", `"\ud800"`, "{\"a\":\"\n\"}", "[1,\n2]",
		strings.Repeat("[", maxJSONDepth) + strings.Repeat("]", maxJSONDepth),
		strings.Repeat("[", maxJSONDepth+1) + strings.Repeat("]", maxJSONDepth+1),
		strings.Repeat(`{"a":`, maxJSONDepth) + "1" + strings.Repeat("}", maxJSONDepth),
		strings.Repeat(`{"a":`, maxJSONDepth+1) + "1" + strings.Repeat("}", maxJSONDepth+1),
		strings.Repeat("[", maxJSONDepth-1) + `{"a":1}` + strings.Repeat("]", maxJSONDepth-1),
		strings.Repeat("[", maxJSONDepth) + `{"a":1}` + strings.Repeat("]", maxJSONDepth),
	}
	for _, c := range cases {
		if got, want := validJSON([]byte(c)), json.Valid([]byte(c)); got != want {
			t.Errorf("%.60q: validJSON %v, json.Valid %v", c, got, want)
		}
	}
	// Every scenario line (the snapshot here, and ../shared's when the
	// checkout sits next to it), whole and cut short.
	files, _ := filepath.Glob(filepath.Join("..", "internal", "scenario", "testdata", "*.ndjson"))
	shared, _ := filepath.Glob(filepath.Join("..", "..", "shared", "scenarios", "*.ndjson"))
	lines := 0
	for _, f := range append(files, shared...) {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(raw), "\n") {
			lines++
			for n := 0; n <= len(line); n += 1 + n/8 {
				if got, want := validJSON([]byte(line[:n])), json.Valid([]byte(line[:n])); got != want {
					t.Fatalf("%s: %.60q: validJSON %v, json.Valid %v", f, line[:n], got, want)
				}
			}
		}
	}
	if lines < 40 {
		t.Fatalf("only %d scenario lines found", lines)
	}
	// Random near-JSON: valid documents with bytes of JSON's alphabet put
	// in, taken out or changed, a few at a time.
	rng := rand.New(rand.NewPCG(3, 4))
	alphabet := []byte(";x'{}[],:\"\\/ \t\n0123456789-+.eEtrufalsn\x00\x1fé")
	seeds := [][]byte{[]byte(`{"id":"e-1","type":"SaleBilled","time":"2024-03-05T10:00:00Z","data":{"amount_usd_cents":1250,"m365":true}}`), []byte(`{"a":[1,-2.5e3,"x\\u00e9y",true,false,null,{"b":{}}],"c":""}`), []byte(`[[],[{}],[-0.0E-0]]`)}
	for range 200_000 {
		b := append([]byte(nil), seeds[rng.IntN(len(seeds))]...)
		for range 1 + rng.IntN(3) {
			i := rng.IntN(len(b) + 1)
			switch c := alphabet[rng.IntN(len(alphabet))]; rng.IntN(3) {
			case 0:
				b = slices.Insert(b, i, c)
			case 1:
				if i < len(b) {
					b = slices.Delete(b, i, i+1)
				}
			default:
				if i < len(b) {
					b[i] = c
				}
			}
		}
		if got, want := validJSON(b), json.Valid(b); got != want {
			t.Fatalf("%q: validJSON %v, json.Valid %v", b, got, want)
		}
	}
}

// FuzzValidJSON holds validJSON to json.Valid on any input.
func FuzzValidJSON(f *testing.F) {
	for _, s := range []string{`{"id":"e1","type":"SaleBilled","data":{"amount_usd_cents":1250,"m365":true,"seats":[1,2.5e3,null]}}`, `"\u00e9"`, `-0.5E+3`, `[{}]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := validJSON(b), json.Valid(b); got != want {
			t.Fatalf("%q: validJSON %v, json.Valid %v", b, got, want)
		}
	})
}

// BenchmarkValidJSON compares validJSON with json.Valid on an input line.
func BenchmarkValidJSON(b *testing.B) {
	line := []byte(`{"specversion":"1.0","id":"evt-000123","source":"billing/eu-1","type":"SaleBilled","time":"2024-03-05T10:00:00Z","partnerid":"P-100","data":{"sale_id":"S-000991","offer_id":"O-12","customer_id":"C-77","amount_usd_cents":125000,"seats":12,"m365":true}}`)
	b.Run("validJSON", func(b *testing.B) {
		b.SetBytes(int64(len(line)))
		for b.Loop() {
			validJSON(line)
		}
	})
	b.Run("json.Valid", func(b *testing.B) {
		b.SetBytes(int64(len(line)))
		for b.Loop() {
			json.Valid(line)
		}
	})
}
