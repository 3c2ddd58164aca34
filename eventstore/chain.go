package eventstore

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
)

// HdrChain is the tamper-evidence header of every event the ledger records
// (CONTRACT.md, "Tamper evidence: the chain"): a per-partner SHA-256 chain
// over each event's subject, Ledger-* headers and stored body.
const HdrChain = "Ledger-Chain"

// ZeroChain is the chain before a partner's first event.
const ZeroChain = "0000000000000000000000000000000000000000000000000000000000000000"

// Chain returns the Ledger-Chain of an event: lowercase hex of
// SHA-256(prev + "\n" + subject + "\n" + H + body), where prev is the
// Ledger-Chain of the same partner's previous event ("" is taken as
// ZeroChain) and H concatenates, over every header whose name starts with
// "Ledger-" except Ledger-Chain, sorted by name (bytewise),
// name + ":" + value + "\n". Anyone with read access can recompute it from a
// stored message with any NATS client.
func Chain(prev, subject string, header map[string]string, body []byte) string {
	if prev == "" {
		prev = ZeroChain
	}
	names := make([]string, 0, len(header))
	for k := range header {
		if strings.HasPrefix(k, ledgerHdrPrefix) && k != HdrChain {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	h := sha256.New()
	h.Write([]byte(prev))
	h.Write([]byte{'\n'})
	h.Write([]byte(subject))
	h.Write([]byte{'\n'})
	for _, k := range names {
		h.Write([]byte(k))
		h.Write([]byte{':'})
		h.Write([]byte(header[k]))
		h.Write([]byte{'\n'})
	}
	h.Write(body)
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0]))
}

// StoredHeader returns the Ledger-* headers Append stores with m: m.Header
// plus the schema, type and partner headers Append adds.
func (m Message) StoredHeader() map[string]string {
	h := make(map[string]string, len(m.Header)+3)
	for k, v := range m.Header {
		h[k] = v
	}
	h[HdrSchema] = SchemaVersion
	h[HdrType] = m.Type
	h[HdrPartner] = m.Partner
	return h
}

// Chained sets m's Ledger-Chain, following prev (the partner's previous
// chain), and returns it.
func (m *Message) Chained(prev string) string {
	c := Chain(prev, Subject(m.Partner, m.Type), m.StoredHeader(), m.Data)
	if m.Header == nil {
		m.Header = map[string]string{}
	}
	m.Header[HdrChain] = c
	return c
}

// Head returns the head of a log at some sequence: lowercase hex of SHA-256
// of the concatenation, over partners sorted by id, of
// partner_id + "\n" + chain + "\n", where chain is each partner's last
// Ledger-Chain at or before that sequence.
func Head(chains map[string]string) string {
	ids := make([]string, 0, len(chains))
	for id := range chains {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	h := sha256.New()
	for _, id := range ids {
		h.Write([]byte(id))
		h.Write([]byte{'\n'})
		h.Write([]byte(chains[id]))
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ChainBreak is the first event whose stored Ledger-Chain is not what its
// partner's previous event, its subject, headers and body give.
type ChainBreak struct {
	Seq     uint64 `json:"seq"`
	Partner string `json:"partner_id"`
	Subject string `json:"subject"`
	Stored  string `json:"stored"`   // the event's Ledger-Chain ("" if it has none)
	Want    string `json:"computed"` // what the chain gives
}

// ChainCheck recomputes the chain of a log read in order, from its first
// event. It keeps one chain per partner. Events recorded before the chain
// existed (no Ledger-Chain) count as Unchained and break nothing: the
// partner's chain then continues from ZeroChain. The zero value is ready.
type ChainCheck struct {
	Events    uint64      // events checked
	Unchained uint64      // events with no Ledger-Chain
	Last      uint64      // sequence of the last event checked
	Break     *ChainBreak // the first break, nil while the chain holds

	chains map[string]string
}

// Add checks the next record of the log. The chain is followed as
// computed, not as stored, so a rewritten event changes the head (see Head)
// whatever its stored header says; Break names the first event whose stored
// chain differs.
func (c *ChainCheck) Add(r Record) {
	if c.chains == nil {
		c.chains = map[string]string{}
	}
	c.Events++
	c.Last = r.Seq
	stored := r.Header[HdrChain]
	if stored == "" {
		c.Unchained++
		delete(c.chains, r.Partner)
		return
	}
	want := Chain(c.chains[r.Partner], r.Subject, r.Header, r.Data)
	if want != stored && c.Break == nil {
		c.Break = &ChainBreak{Seq: r.Seq, Partner: r.Partner, Subject: r.Subject, Stored: stored, Want: want}
	}
	c.chains[r.Partner] = want
}

// Head returns the number of partners with a chain so far and the head
// over them (see Head), as recomputed: for an intact log, the head of the
// stored chains.
func (c *ChainCheck) Head() (partners int, head string) { return len(c.chains), Head(c.chains) }
