package rpc

import (
	"strings"
	"sync/atomic"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/auth"
	"github.com/benefits-ledger/ledger/internal/ledger"
	"github.com/benefits-ledger/ledger/internal/micro"
)

// EndpointSubmitRole receives the submissions of the roles' accounts on
// ledger.submit.<role> (package auth): their imports of the service rename
// the ledger.submit clients send to, so the role comes from the server, not
// from the client. The plain ledger.submit endpoint is the admin role.
const EndpointSubmitRole = "submit-role"

// addRoleSubmit registers the role-carrying submit endpoint.
func (s *Server) addRoleSubmit(g micro.Group) error {
	return g.AddEndpoint(EndpointSubmitRole, s.async(s.submit),
		micro.WithEndpointSubject(EndpointSubmit+".*"), micro.WithEndpointPendingLimits(subPendingMsgs, subPendingBytes))
}

// permitOf returns the permit of the role a submit subject carries: nil (all
// types) for admin, the role's check of each line's type otherwise. A
// subject naming no role refuses the whole request.
func permitOf(subject string) (ledger.Permit, error) {
	role, err := auth.RoleOfSubject(subject)
	if err != nil {
		return nil, &domain.Error{Code: domain.CodeForbidden, Msg: "submission refused: " + err.Error()}
	}
	if role.SubmitsAll() {
		return nil, nil
	}
	return role.CheckSubmit, nil
}

// endpointOf maps a request subject to its endpoint's contract subject
// (ledger.submit.<role> is a submit).
func endpointOf(subject string) string {
	if strings.HasPrefix(subject, Subject(EndpointSubmit)+".") {
		return Subject(EndpointSubmit)
	}
	return subject
}

// isRequest tells a client's request from a message that only looks like
// one. Anyone who may create consumers on the stream (auditor, admin) can
// make JetStream deliver stored events to any subject of the ledger's
// account, the service's included; such deliveries carry a $JS.ACK reply
// (or none) and are dropped, so replaying the log at the service can neither
// submit nor trigger anything.
func isRequest(req micro.Request) bool {
	reply := req.Reply()
	return reply != "" && !strings.HasPrefix(reply, "$JS.")
}

var lastDropWarning atomic.Int64

// dropped logs a dropped non-request, at most once a minute.
func (s *Server) dropped(req micro.Request) {
	now := time.Now().Unix()
	if last := lastDropWarning.Load(); now-last >= 60 && lastDropWarning.CompareAndSwap(last, now) {
		s.log.Warn("dropped a message that is not a client request (no reply subject, or a JetStream delivery)",
			"subject", req.Subject(), "reply", req.Reply())
	}
}
