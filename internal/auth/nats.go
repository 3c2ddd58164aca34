package auth

import (
	"fmt"
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
	SubjectBackup    = "ledger.backup"
	SubjectWhatIf    = "ledger.whatif"   // a scan of every partner: the reading roles
	SubjectExport    = "ledger.export"   // a scan of every partner: the reading roles
	SubjectEvents    = "ledger.events.>" // the stream's subjects: written by the ledger only
	SubjectDiscovery = "$SRV.>"          // micro discovery: PING, INFO, STATS
	StreamName       = "LEDGER"          // the event stream (eventstore.DefaultStreamName)

	// The intake (CONTRACT.md "The intake"): publishers of a submitting
	// role JetStream-publish to ledger.intake.<token>; their account's
	// import renames it to ledger.intake.<role>.<token>, captured by the
	// INTAKE stream in the ledger account, so the role comes from the
	// server. The PubAck travels back as the import's reply.
	SubjectIntake        = "ledger.intake"
	IntakeStreamName     = "INTAKE"
	IntakeStreamSubjects = SubjectIntake + ".*.>"
	// The outcomes: one per intake event on ledger.outcomes.<role>, in the
	// OUTCOMES stream; every role reads its own (the reading roles all)
	// through the reader gate.
	SubjectOutcomes    = "ledger.outcomes"
	OutcomesStreamName = "OUTCOMES"
	// OutcomeNamesKV holds the reader gate's key for naming OUTCOMES
	// consumers (see rpc.ReaderGate): in the ledger account, which no
	// role reads.
	OutcomeNamesKV  = "LEDGER_OUTCOME_NAMES"
	OutcomeNamesKey = "key" // the key's key in OutcomeNamesKV
)

// IntakeSubject is where the intake stream receives role r's publishes
// (followed by the publisher's token).
func IntakeSubject(r Role) string { return SubjectIntake + "." + string(r) }

// RoleOfIntakeSubject returns the role an INTAKE message's subject carries.
func RoleOfIntakeSubject(subject string) (Role, error) {
	tail, ok := strings.CutPrefix(subject, SubjectIntake+".")
	if !ok {
		return "", fmt.Errorf("not an intake subject: %q", subject)
	}
	name, _, _ := strings.Cut(tail, ".")
	return ParseRole(name)
}

// OutcomesSubject is where the outcomes of role r's intake events go.
func OutcomesSubject(r Role) string { return SubjectOutcomes + "." + string(r) }

// QuerySubjects are the query endpoints every role may call.
var QuerySubjects = []string{"ledger.tier", "ledger.benefits", "ledger.history", "ledger.audit", "ledger.attention", "ledger.stats", "ledger.policy", "ledger.outcome", "ledger.intakeinfo"}

// ScanSubjects are the endpoints that scan every partner (what-if, export):
// the reading roles (admin and auditor) may call them, like verify.
var ScanSubjects = []string{SubjectWhatIf, SubjectExport}

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
// generated on first start). Every role has an account of its own, named
// after it (see accountOf).
const (
	SystemAccountName = "SYS"    // the server's system account: no users
	LedgerAccountName = "ledger" // the stream and the ledger's own service user, nobody else
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

// accountOf is the account an identity's user lives in. Only the ledger's
// own user lives in the ledger account, beside the stream: a responder
// publishes its reply to whatever subject a request names, and a stream
// captures every matching publish in its account, so a client that shared
// the stream's account could have the ledger's service, the JetStream API or
// micro discovery write into the log by naming a reply subject inside
// ledger.events.>. Across an account boundary the server rewrites reply
// subjects (imports answer on _R_.… subjects that map back to the
// importer), so no request of a client can make anything be stored in the
// stream. Each role therefore has an account of its own, which imports what
// the role may call; the submitting roles' imports also carry the role.
func accountOf(id string) string {
	if id == ServiceUser {
		return LedgerAccountName
	}
	return id
}

// roleAccounts are the accounts of the roles: one each.
func roleAccounts() []Role { return slices.Clone(roles) }

// Reads reports whether the role may read the stream itself (JetStream
// reads, ledger.verify): the admin and the auditor.
func (r Role) Reads() bool { return r == Admin || r == Auditor }

// apiImport is a JetStream API subject of the stream that a reading role
// calls as it is; multi answers more than one message per request.
type apiImport struct {
	subject string
	multi   bool
}

// streamReadAPI are the JetStream API subjects that read the stream without
// changing it and go straight to JetStream: account and stream info, the
// stream list, single and batched message gets, pulling from and inspecting
// a consumer. Consumer creation and deletion go through the ledger's reader
// gate instead (ReaderGateSubject), which bounds how many consumers a role
// may hold and refuses push consumers. Listing consumers is left out on
// purpose: consumer names are unguessable, so a reader cannot pull from,
// inspect or delete the ledger's own.
func streamReadAPI(stream string) []apiImport {
	return []apiImport{
		{"$JS.API.STREAM.NAMES", false},
		{"$JS.API.STREAM.LIST", false},
		{"$JS.API.STREAM.INFO." + stream, false},
		{"$JS.API.STREAM.MSG.GET." + stream, false},
		{"$JS.API.DIRECT.GET." + stream, true},
		{"$JS.API.DIRECT.GET." + stream + ".>", true},
		{"$JS.API.CONSUMER.MSG.NEXT." + stream + ".*", true},
		{"$JS.API.CONSUMER.INFO." + stream + ".*", false},
		// Acknowledgements of a reader's own consumers (natscli's pager
		// acks): they move a consumer's delivery state, never the stream.
		{"$JS.ACK." + stream + ".>", true},
	}
}

// The consumer operations of a reading role, as its clients address them
// (the JetStream API) and as the ledger's reader gate receives them.
const (
	consumerCreateAPI = "$JS.API.CONSUMER.CREATE." + StreamName + ".>" // …<name>[.<filter>]
	consumerDeleteAPI = "$JS.API.CONSUMER.DELETE." + StreamName + ".*" // …<name>
	readerGatePrefix  = "ledger.readers"

	outcomesCreateAPI = "$JS.API.CONSUMER.CREATE." + OutcomesStreamName + ".>"
	outcomesDeleteAPI = "$JS.API.CONSUMER.DELETE." + OutcomesStreamName + ".*"
)

// Reader gate operations: what a role's consumer request asks for, on the
// event stream (reading roles) or on OUTCOMES (every role, filtered to its
// own outcomes unless it reads everything).
const (
	GateCreate         = "create"
	GateDelete         = "delete"
	GateCreateOutcomes = "create-outcomes"
	GateDeleteOutcomes = "delete-outcomes"
)

// outcomesReadAPI are the JetStream API subjects on OUTCOMES every role
// calls as they are: its info, pulling from, inspecting and acking a consumer (the
// gate names every OUTCOMES consumer unguessably, a durable too, and no
// role may list them; the gate filters what a consumer delivers). It also
// holds the account info ($JS.API.INFO), which every role imports: an
// account without JetStream that does not import it gets the server's
// "JetStream not enabled" responder on the whole $JS.API.> (the reading
// roles' stream API included).
func outcomesReadAPI() []apiImport {
	return []apiImport{
		{"$JS.API.INFO", false},
		{"$JS.API.STREAM.INFO." + OutcomesStreamName, false},
		{"$JS.API.CONSUMER.MSG.NEXT." + OutcomesStreamName + ".*", true},
		{"$JS.API.CONSUMER.INFO." + OutcomesStreamName + ".*", false},
		// Acknowledgements of a role's own OUTCOMES consumers: without
		// them an acking durable stalls at its max-ack-pending. An ack
		// subject is no stream's subject (no stream in the ledger account
		// captures $JS.ACK.>), and it moves only the delivery state of the
		// consumer it names, whose name the gate made unguessable: a role
		// acks only its own.
		{"$JS.ACK." + OutcomesStreamName + ".>", true},
	}
}

// ReaderGateSubject is the subject on which the ledger receives role r's
// consumer requests of kind op (GateCreate or GateDelete): the role's
// account imports it as the JetStream API subject, so the role in it is set
// by the server, never by the client. The subject continues with the
// consumer name (and, for a create, the filter), as in the API subject.
func ReaderGateSubject(r Role, op string) string {
	return readerGatePrefix + "." + string(r) + "." + op
}

// ParseReaderGateSubject splits a subject received by the reader gate into
// the role, the operation and the rest of the JetStream API subject (the
// consumer name, then any filter).
func ParseReaderGateSubject(subject string) (r Role, op, rest string, err error) {
	tail, ok := strings.CutPrefix(subject, readerGatePrefix+".")
	if !ok {
		return "", "", "", fmt.Errorf("not a reader gate subject: %q", subject)
	}
	parts := strings.SplitN(tail, ".", 3)
	if len(parts) != 3 || !slices.Contains([]string{GateCreate, GateDelete, GateCreateOutcomes, GateDeleteOutcomes}, parts[1]) {
		return "", "", "", fmt.Errorf("not a reader gate subject: %q", subject)
	}
	if r, err = ParseRole(parts[0]); err != nil {
		return "", "", "", err
	}
	if (parts[1] == GateCreate || parts[1] == GateDelete) && !r.Reads() {
		return "", "", "", fmt.Errorf("role %s does not read the stream", r)
	}
	return r, parts[1], parts[2], nil
}

// ReaderGateSubscription is the subject the ledger subscribes for the gate.
const ReaderGateSubscription = readerGatePrefix + ".>"

// Permissions returns the subject permissions of an identity's user. They
// are allow-lists: anything not listed is refused by the server with a
// permissions violation. The explicit denies only make the intent readable.
// The service user has no restrictions. Every subject a role may publish is
// an import of its account (roleImports) or its own inbox.
func Permissions(id string) jwt.Permissions {
	var p jwt.Permissions
	if id == ServiceUser {
		return p
	}
	r := Role(id)
	pub := slices.Clone(QuerySubjects)
	pub = append(pub, SubjectDiscovery)
	if r.MaySubmitAny() {
		pub = append(pub, SubjectSubmit, SubjectIntake+".>")
	}
	for _, a := range outcomesReadAPI() {
		pub = append(pub, a.subject)
	}
	pub = append(pub, outcomesCreateAPI, outcomesDeleteAPI)
	if r.Reads() {
		pub = append(pub, SubjectVerify)
		pub = append(pub, ScanSubjects...)
		for _, a := range streamReadAPI(StreamName) {
			pub = append(pub, a.subject)
		}
		pub = append(pub, consumerCreateAPI, consumerDeleteAPI)
	}
	if r == Admin {
		pub = append(pub, SubjectRebuild, SubjectBackup)
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
// accounts: each role's submit subject, the queries, discovery, verify and
// rebuild, and for the reading roles the stream's read API and their reader
// gate. An export is public, but only accounts this operator signs exist,
// and only their JWTs (roleImports) say who imports what.
func ledgerExports() jwt.Exports {
	var ex jwt.Exports
	service := func(name, subject string, multi bool) {
		e := &jwt.Export{Name: name, Subject: jwt.Subject(subject), Type: jwt.Service}
		if multi {
			e.ResponseType = jwt.ResponseTypeStream
		}
		ex.Add(e)
	}
	for _, r := range roleAccounts() {
		if r.MaySubmitAny() {
			service("submit as "+string(r), SubmitSubject(r), false)
			service("intake of "+string(r), IntakeSubject(r)+".>", false)
		}
		if !r.Reads() { // a reading role's gate export covers every operation
			service("outcome consumers of "+string(r), ReaderGateSubject(r, GateCreateOutcomes)+".>", false)
			service("outcome consumer deletes of "+string(r), ReaderGateSubject(r, GateDeleteOutcomes)+".*", false)
		}
		if r.Reads() {
			service("consumers of "+string(r), ReaderGateSubject(r, ">"), false)
		}
	}
	for _, q := range QuerySubjects {
		service(q, q, false)
	}
	service(SubjectVerify, SubjectVerify, false)
	for _, sc := range ScanSubjects {
		service(sc, sc, false)
	}
	service(SubjectRebuild, SubjectRebuild, false)
	service(SubjectBackup, SubjectBackup, false)
	// Discovery answers once per running ledger: a stream of responses.
	service("discovery", SubjectDiscovery, true)
	for _, a := range streamReadAPI(StreamName) {
		service(a.subject, a.subject, a.multi)
	}
	for _, a := range outcomesReadAPI() {
		service(a.subject, a.subject, a.multi)
	}
	return ex
}

// roleImports are the imports of a role's account: ledger.submit renamed to
// the role's submit subject, the queries and discovery as they are; for the
// reading roles verify and the stream's read API, with consumer creation
// and deletion renamed to the role's reader gate; rebuild for the admin.
func roleImports(r Role, ledgerAccount string) jwt.Imports {
	var im jwt.Imports
	imp := func(name, remote, local string) {
		// Share: the server tells the ledger which connection a request
		// came from (Nats-Request-Info), which bounds what one connection
		// may queue.
		i := &jwt.Import{Name: name, Account: ledgerAccount, Type: jwt.Service, Subject: jwt.Subject(remote), Share: true}
		if local != "" {
			i.LocalSubject = jwt.RenamingSubject(local)
		}
		im.Add(i)
	}
	if r.MaySubmitAny() {
		imp("submit", SubmitSubject(r), SubjectSubmit)
		imp("intake", IntakeSubject(r)+".>", SubjectIntake+".>")
	}
	for _, a := range outcomesReadAPI() {
		imp(a.subject, a.subject, "")
	}
	imp("outcome consumer create", ReaderGateSubject(r, GateCreateOutcomes)+".>", outcomesCreateAPI)
	imp("outcome consumer delete", ReaderGateSubject(r, GateDeleteOutcomes)+".*", outcomesDeleteAPI)
	for _, q := range QuerySubjects {
		imp(q, q, "")
	}
	imp("discovery", SubjectDiscovery, "")
	if r.Reads() {
		imp(SubjectVerify, SubjectVerify, "")
		for _, sc := range ScanSubjects {
			imp(sc, sc, "")
		}
		for _, a := range streamReadAPI(StreamName) {
			imp(a.subject, a.subject, "")
		}
		imp("consumer create", ReaderGateSubject(r, GateCreate)+".>", consumerCreateAPI)
		imp("consumer delete", ReaderGateSubject(r, GateDelete)+".*", consumerDeleteAPI)
	}
	if r == Admin {
		imp(SubjectRebuild, SubjectRebuild, "")
		imp(SubjectBackup, SubjectBackup, "")
	}
	return im
}
