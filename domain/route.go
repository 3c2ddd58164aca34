package domain

// Directory is the ledger's global index: what must be unique across
// partners. The pure Book keeps it in maps; the running ledger in bbolt plus
// the writer's not-yet-projected appends.
type Directory interface {
	// Envelope returns the sequence and content fingerprint recorded for an
	// envelope id.
	Envelope(id string) (seq uint64, fp Fingerprint, ok bool)
	// OfferOwner returns the partner an offer belongs to.
	OfferOwner(offerID string) (partner string, ok bool)
	// SaleOwner returns the partner a sale belongs to.
	SaleOwner(saleID string) (partner string, ok bool)
}

// Route finds the partner an input belongs to, answering first what only the
// global index can: an envelope id seen before (duplicate or conflict), an
// offer owned by another partner, an unknown offer or sale. The ledger
// resolves the partner of sale- and offer-scoped events itself.
func Route(dir Directory, in Input) (string, error) {
	if seq, fp, ok := dir.Envelope(in.ID); ok {
		if fp == in.Fingerprint() {
			return "", &Duplicate{Seq: seq}
		}
		return "", reject(CodeDuplicateConflict, "envelope id %s was recorded at sequence %d with different content", in.ID, seq)
	}
	switch d := in.Data.(type) {
	case OfferPublished:
		if owner, ok := dir.OfferOwner(d.OfferID); ok && owner != d.PartnerID {
			return "", reject(CodeDuplicateConflict, "offer %s belongs to partner %s", d.OfferID, owner)
		}
		return d.PartnerID, nil
	case partnerScoped:
		return d.Partner(), nil
	case OfferDelisted:
		return offerOwner(dir, d.OfferID)
	case SaleBilled:
		if owner, ok := dir.SaleOwner(d.SaleID); ok {
			return owner, nil // Decide compares the content
		}
		return offerOwner(dir, d.OfferID)
	case SaleFlaggedFraud:
		return saleOwner(dir, d.SaleID)
	case SaleFraudCleared:
		return saleOwner(dir, d.SaleID)
	case PurchaseCancelled:
		return saleOwner(dir, d.SaleID)
	}
	return "", reject(CodeUnknownType, "event type %s cannot be routed", in.Type)
}

func offerOwner(dir Directory, id string) (string, error) {
	if owner, ok := dir.OfferOwner(id); ok {
		return owner, nil
	}
	return "", reject(CodeUnknownOffer, "offer %s is not known", id)
}

func saleOwner(dir Directory, id string) (string, error) {
	if owner, ok := dir.SaleOwner(id); ok {
		return owner, nil
	}
	return "", reject(CodeUnknownSale, "sale %s is not known", id)
}
