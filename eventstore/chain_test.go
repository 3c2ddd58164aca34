package eventstore

import (
	"bytes"
	"fmt"
	"testing"
)

// TestChainGolden pins the chain to CONTRACT.md's definition, with values
// computed apart from this code (printf … | sha256sum): any NATS client can
// recompute it.
func TestChainGolden(t *testing.T) {
	h := map[string]string{"Ledger-Schema": "1", "Ledger-Type": "SaleBilled", "Ledger-Partner": "P-1",
		"Ledger-Recorded": "2024-05-01T10:00:00Z", "Ledger-Chain": "left out", "Nats-Msg-Id": "left out"}
	const want = "17f31fb146b0861d738f813634b49a751ef5320fd07f61f79adb6452a11d9b78"
	for _, prev := range []string{"", ZeroChain} {
		if got := Chain(prev, "ledger.events.P-1.SaleBilled", h, []byte(`{"a":1}`)); got != want {
			t.Errorf("Chain(%q) = %s, want %s", prev, got, want)
		}
	}
	if got := Head(map[string]string{"P-2": "bbbb", "P-1": "aaaa"}); got != "fcc6ada20ddef0d6648628b55c19af1a6fc56db1f51ff1441feaf128da8094b2" {
		t.Errorf("Head = %s", got)
	}
	// What Append stores is what the chain covers.
	m := Message{Partner: "P-1", Type: "SaleBilled", Data: []byte(`{"a":1}`), Header: map[string]string{"Ledger-Recorded": "2024-05-01T10:00:00Z"}}
	if got := m.Chained(""); got != want || m.Header[HdrChain] != want {
		t.Errorf("Chained = %s (header %s), want %s", got, m.Header[HdrChain], want)
	}
	out, err := buildMsgs("LEDGER", []Message{m}, nil)
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]string{}
	for k, v := range out[0].Header {
		stored[k] = v[0]
	}
	if got := Chain("", out[0].Subject, stored, out[0].Data); got != want {
		t.Errorf("chain over the built message %s, want %s", got, want)
	}
}

// chainedLog is a log of n events over two partners, chained as the writer
// chains them.
func chainedLog(n int) []Record {
	prev := map[string]string{}
	var log []Record
	for i := range n {
		p := fmt.Sprintf("P-%d", i%2)
		m := Message{Partner: p, Type: "SaleBilled", Data: fmt.Appendf(nil, `{"sale_id":"S-%d","amount_usd_cents":%d}`, i, 100*(i+1)),
			Header: map[string]string{"Ledger-Recorded": fmt.Sprintf("2024-05-01T10:00:%02dZ", i)}}
		prev[p] = m.Chained(prev[p])
		log = append(log, Record{Seq: uint64(i + 1), Subject: Subject(p, m.Type), Partner: p, Type: m.Type, Data: m.Data, Header: m.StoredHeader()})
	}
	return log
}

// renumber gives records dense sequences again, as a rewritten stream has.
func renumber(log []Record) []Record {
	for i := range log {
		log[i].Seq = uint64(i + 1)
	}
	return log
}

// TestChainCheck: an intact log checks; a rewritten one — an amount changed,
// an event removed, two of a partner's events swapped, a header changed, a
// chain forged for a changed body without the partner's later events — is
// caught at the first event that breaks it.
func TestChainCheck(t *testing.T) {
	intact := chainedLog(10)
	cases := []struct {
		name   string
		tamper func([]Record) []Record
		breaks uint64 // 0: intact
	}{
		{"intact", func(l []Record) []Record { return l }, 0},
		{"amount changed", func(l []Record) []Record {
			l[4].Data = bytes.Replace(l[4].Data, []byte("500"), []byte("900"), 1)
			return l
		}, 5},
		{"event removed", func(l []Record) []Record { return renumber(append(l[:3], l[4:]...)) }, 5 /* P-1's next, now at seq 5 */},
		{"partner's events swapped", func(l []Record) []Record { l[2], l[4] = l[4], l[2]; return renumber(l) }, 3},
		{"header changed", func(l []Record) []Record { l[6].Header["Ledger-Recorded"] = "2020-01-01T00:00:00Z"; return l }, 7},
		{"forged chain, later events left", func(l []Record) []Record {
			l[1].Data = []byte(`{"forged":true}`)
			l[1].Header[HdrChain] = Chain("", l[1].Subject, l[1].Header, l[1].Data) // P-1's first event, re-chained
			return l
		}, 4 /* P-1's next event no longer follows */},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			log := tc.tamper(cloneLog(intact))
			var c ChainCheck
			for _, r := range log {
				c.Add(r)
			}
			switch {
			case tc.breaks == 0 && c.Break != nil:
				t.Fatalf("intact log breaks at %+v", c.Break)
			case tc.breaks != 0 && (c.Break == nil || c.Break.Seq != tc.breaks):
				t.Fatalf("break %+v, want at seq %d", c.Break, tc.breaks)
			}
			if n, head := c.Head(); tc.breaks == 0 && (n != 2 || head == "") {
				t.Errorf("head over %d partners: %q", n, head)
			}
		})
	}
	// Heads differ as soon as any partner's history differs.
	var a, b ChainCheck
	for i, r := range cloneLog(intact) {
		a.Add(r)
		if i == 9 {
			r.Data = []byte("{}")
			r.Header[HdrChain] = Chain(intact[7].Header[HdrChain], r.Subject, r.Header, r.Data)
		}
		b.Add(r)
	}
	if b.Break != nil {
		t.Fatalf("a re-chained last event should check: %+v", b.Break)
	}
	if _, ha := a.Head(); func() bool { _, hb := b.Head(); return ha == hb }() {
		t.Error("a rewritten last event (re-chained) leaves the head unchanged")
	}
}

func cloneLog(log []Record) []Record {
	out := make([]Record, len(log))
	for i, r := range log {
		h := make(map[string]string, len(r.Header))
		for k, v := range r.Header {
			h[k] = v
		}
		r.Header, r.Data = h, bytes.Clone(r.Data)
		out[i] = r
	}
	return out
}
