package domain

import "maps"

// dataFieldNames are the names of every event type's data fields, as the
// parsers ask for them (TestInternedNames holds the list to them).
var dataFieldNames = []string{
	"account_email", "amount_usd_cents", "benefit_id", "category", "confidence", "customer_id",
	"email", "ground", "language", "listing_type", "metric", "name", "note", "offer_id",
	"partner_id", "period", "phone", "publisher_id", "reason", "sale_id", "seats",
	"storefront", "user_id", "value",
}

// interned holds the strings every line of the ledger's vocabulary repeats:
// the envelope's attribute names, the data fields' names, the event types,
// the values of the enumerations and the one specversion. The scanner hands
// these out instead of a fresh copy of the line's bytes (looking a map up
// with string(b) as the key allocates nothing): a sale's line carries a
// dozen of them, which were half of what parsing it allocated. Read-only
// after it is built.
var interned = func() map[string]string {
	m := map[string]string{"1.0": "1.0", "data": "data", "datacontenttype": "datacontenttype"}
	for _, list := range [][]string{envelopeAttributes, dataFieldNames, listingTypes, storefronts, categories,
		confidences, cancelReasons, metrics, grounds} {
		for _, s := range list {
			m[s] = s
		}
	}
	for t := range maps.Keys(dataParsers) {
		m[t] = t
	}
	return m
}()

// internedOr returns b as a string: the interned copy when it is one of
// the vocabulary's, else a new one.
func internedOr(b []byte) string {
	if s, ok := interned[string(b)]; ok {
		return s
	}
	return string(b)
}
