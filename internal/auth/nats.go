package auth

import (
	"slices"
	"strings"

	"github.com/nats-io/jwt/v2"
)

// Subjects of the ledger as clients address them (CONTRACT.md). They are
// spelled here rather than taken from package rpc, which depends on this
// package; a test checks that every endpoint the service registers is
// covered by the model.
const (
	SubjectSubmit    = "ledger.submit"
	SubjectVerify    = "ledger.verify"
	SubjectRebuild   = "ledger.rebuild"
	SubjectEvents    = "ledger.events.>" // the stream's subjects: written by the ledger only
	SubjectDiscovery = "$SRV.>"          // micro discovery: PING, INFO, STATS
	StreamName       = "LEDGER"          // the event stream (eventstore.DefaultStreamName)
)

// QuerySubjects are the query endpoints every role may call.
var QuerySubjects = []string{"ledger.tier", "ledger.benefits", "ledger.history", "ledger.audit", "ledger.attention", "ledger.stats"}

// SubmitSubject is where the ledger receives the submissions of role r. A
// client of the role sends to ledger.submit; its account's import of the
// ledger's service renames the subject, so the role in it is set by the
// server from the client's credentials, never by the client. A plain
// ledger.submit reaches the ledger only from inside its own account, where
// only the admin user may publish it: it is the admin role.
func SubmitSubject(r Role) string { return SubjectSubmit + "." + string(r) }

// RoleOfSubject returns the role a submit subject carries: admin for the
// plain ledger.submit, the role for ledger.submit.<role>.
func RoleOfSubject(subject string) (Role, error) {
	if subject == SubjectSubmit {
		return Admin, nil
	}
	return ParseRole(strings.TrimPrefix(subject, SubjectSubmit+"."))
}

// Account names (as written in the account JWTs; the public keys are
// generated on first start).
const (
	SystemAccountName = "SYS"    // the server's system account: no users
	LedgerAccountName = "ledger" // the stream, the service; admin and auditor users
)

// ServiceUser is the ledger's own user: the only identity that may publish
// to the stream's subjects or change the stream.
const ServiceUser = "ledger"

// Identities are the users the ledger issues credentials for, each written
// to DATA/credentials/<identity>.creds: the service user and every role.
func Identities() []string {
	ids := []string{ServiceUser}
	for _, r := range roles {
		ids = append(ids, string(r))
	}
	return ids
}

// accountOf is the account an identity's user lives in. Admin and auditor
// live in the ledger account because they read the stream with ordered
// consumers (JetStream's API is per account); the submitting roles each have
// their own account so that the ledger learns the role from the subject.
func accountOf(id string) string {
	switch id {
	case ServiceUser, string(Admin), string(Auditor):
		return LedgerAccountName
	}
	return id
}

// roleAccounts are the accounts of the submitting roles.
func roleAccounts() []Role {
	var out []Role
	for _, r := range roles {
		if accountOf(string(r)) == string(r) {
			out = append(out, r)
		}
	}
	return out
}

// streamReadSubjects are the JetStream API subjects that read the stream
// without changing it: stream info, single-message gets, and creating,
// pulling from, inspecting and deleting consumers (an ordered consumer
// creates and deletes its own). Listing consumers is left out on purpose:
// consumer names are unguessable, so a reader cannot touch the ledger's own.
func streamReadSubjects(stream string) []string {
	return []string{
		"$JS.API.INFO",
		"$JS.API.STREAM.NAMES",
		"$JS.API.STREAM.INFO." + stream,
		"$JS.API.STREAM.MSG.GET." + stream,
		"$JS.API.DIRECT.GET." + stream,
		"$JS.API.DIRECT.GET." + stream + ".>",
		"$JS.API.CONSUMER.CREATE." + stream,
		"$JS.API.CONSUMER.CREATE." + stream + ".>",
		"$JS.API.CONSUMER.MSG.NEXT." + stream + ".*",
		"$JS.API.CONSUMER.INFO." + stream + ".*",
		"$JS.API.CONSUMER.DELETE." + stream + ".*",
		"$JS.FC." + stream + ".>", // flow-control replies of push-based ordered consumers
	}
}

// Permissions returns the subject permissions of an identity's user. They
// are allow-lists: anything not listed is refused by the server with a
// permissions violation. The explicit denies only make the intent readable.
// The service user has no restrictions.
func Permissions(id string) jwt.Permissions {
	var p jwt.Permissions
	if id == ServiceUser {
		return p
	}
	r := Role(id)
	pub := slices.Clone(QuerySubjects)
	pub = append(pub, SubjectDiscovery)
	if r.MaySubmitAny() {
		pub = append(pub, SubjectSubmit)
	}
	switch r {
	case Admin:
		pub = append(pub, SubjectVerify, SubjectRebuild)
		pub = append(pub, streamReadSubjects(StreamName)...)
	case Auditor:
		pub = append(pub, SubjectVerify)
		pub = append(pub, streamReadSubjects(StreamName)...)
	}
	p.Pub.Allow.Add(pub...)
	p.Pub.Deny.Add(SubjectEvents, SubjectSubmit+".>")
	if !r.MaySubmitAny() {
		p.Pub.Deny.Add(SubjectSubmit)
	}
	p.Sub.Allow.Add("_INBOX.>")
	return p
}

// ledgerExports are the services the ledger account offers to the role
// accounts: each role's submit subject, the queries and discovery.
func ledgerExports() jwt.Exports {
	var ex jwt.Exports
	for _, r := range roleAccounts() {
		if r.MaySubmitAny() {
			ex.Add(&jwt.Export{Name: "submit as " + string(r), Subject: jwt.Subject(SubmitSubject(r)), Type: jwt.Service})
		}
	}
	for _, q := range QuerySubjects {
		ex.Add(&jwt.Export{Name: q, Subject: jwt.Subject(q), Type: jwt.Service})
	}
	// Discovery answers once per running ledger: a stream of responses.
	ex.Add(&jwt.Export{Name: "discovery", Subject: SubjectDiscovery, Type: jwt.Service, ResponseType: jwt.ResponseTypeStream})
	return ex
}

// roleImports are the imports of a role's account: ledger.submit renamed to
// the role's submit subject, the queries and discovery as they are.
func roleImports(r Role, ledgerAccount string) jwt.Imports {
	var im jwt.Imports
	if r.MaySubmitAny() {
		im.Add(&jwt.Import{Name: "submit", Account: ledgerAccount, Type: jwt.Service,
			Subject: jwt.Subject(SubmitSubject(r)), LocalSubject: SubjectSubmit})
	}
	for _, q := range QuerySubjects {
		im.Add(&jwt.Import{Name: q, Account: ledgerAccount, Type: jwt.Service, Subject: jwt.Subject(q)})
	}
	im.Add(&jwt.Import{Name: "discovery", Account: ledgerAccount, Type: jwt.Service, Subject: SubjectDiscovery})
	return im
}
