package domain

import (
	"testing"
	"unsafe"
)

// TestInternedNames: every name of an envelope and of every type's data
// (the valid data of each type, and the required fields), every type and
// every enumeration value the scanner reads comes back as the one interned
// string, not a copy; a name outside the vocabulary is still read exactly.
func TestInternedNames(t *testing.T) {
	same := func(a, b string) bool { return unsafe.StringData(a) == unsafe.StringData(b) }
	for typ, data := range validData() {
		ms, err := parseObject(envelope(baseEnvelope(typ, data)))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			if !same(m.name, interned[m.name]) {
				t.Errorf("%s: the envelope's %q is not interned", typ, m.name)
			}
			if m.name == "type" && !same(m.text, interned[typ]) {
				t.Errorf("the type %q is not interned", typ)
			}
			for _, d := range m.obj {
				if !same(d.name, interned[d.name]) {
					t.Errorf("%s: the data field %q is not interned", typ, d.name)
				}
			}
		}
		for _, name := range requiredFields[typ] {
			if interned[name] != name {
				t.Errorf("%s: the required field %q is not interned", typ, name)
			}
		}
	}
	ms, err := parseObject([]byte(`{"listing_type":"transact","x-unknown":"S-12","esc\u0061ped":"1.0"}`))
	if err != nil {
		t.Fatal(err)
	}
	if !same(ms[0].text, interned["transact"]) || !same(ms[2].text, interned["1.0"]) {
		t.Errorf("enumeration values and the specversion are not interned")
	}
	if ms[1].name != "x-unknown" || ms[1].text != "S-12" || ms[2].name != "escaped" {
		t.Errorf("names outside the vocabulary read as %q %q %q", ms[1].name, ms[1].text, ms[2].name)
	}
}

// TestParseAllocations: parsing a sale's line allocates its members once,
// and one string per value outside the vocabulary (the ids, the time, the
// amount), not one per name.
func TestParseAllocations(t *testing.T) {
	line := saleLine(nil)
	n := testing.AllocsPerRun(100, func() {
		if _, err := ParseEnvelope(line, parseNow); err != nil {
			t.Fatal(err)
		}
	})
	// members 1, values id/source/time/sale_id/offer_id/customer_id/amount/seats 8,
	// fields 1, the data's interface 1, the fingerprint 1
	if n > 12 {
		t.Errorf("a sale's line takes %v allocations to parse, want at most 12", n)
	}
}
