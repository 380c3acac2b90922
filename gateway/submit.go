package gateway

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"time"

	"github.com/feegate/feegate/protocol"
	"go.uber.org/zap"
)

const maxIdempotencyKey = 200

// maxDeadline is the first instant that a two-digit meter year cannot carry, with a day
// to spare for the zone of the meter clock.
var maxDeadline = time.Date(2099, 12, 31, 0, 0, 0, 0, time.UTC)

// validateCommon checks the fields that commands and batches share.
func (e *Engine) validateCommon(action Action, items []string, deadline *time.Time,
	operator, key string, now time.Time) *RequestError {
	if action == "" {
		return invalid("action", "", "missing action")
	}
	if !action.Valid() {
		return invalid("action", string(action), "unknown action")
	}
	if len(items) > 0 && action != ActionRead {
		return invalid("items", "", "items are only allowed with the read action")
	}
	for i, it := range items {
		if !validReadItem(it) {
			return invalid("items["+strconv.Itoa(i)+"]", it, "unknown read item")
		}
	}
	if deadline != nil && !deadline.After(now) {
		return invalid("deadline", deadline.Format(time.RFC3339), "deadline is in the past")
	}
	// DL/T 645 and 376.1 send the deadline with a two-digit year counted from 2000.
	if deadline != nil && !deadline.Before(maxDeadline) {
		return invalid("deadline", deadline.Format(time.RFC3339),
			"deadline must be before 2099-12-31 (meters count years 2000-2099)")
	}
	if operator != "" {
		if len(operator) != 8 {
			return invalid("operator", operator, "operator must be 8 digits")
		}
		for i := 0; i < len(operator); i++ {
			if operator[i] < '0' || operator[i] > '9' {
				return invalid("operator", operator, "operator must be 8 digits")
			}
		}
	}
	if len(key) > maxIdempotencyKey {
		return invalid("idempotency_key", key[:16]+"...", "idempotency key longer than %d bytes",
			maxIdempotencyKey)
	}
	return nil
}

func validMeterAddress(s string) bool {
	if len(s) != 12 {
		return false
	}
	_, err := protocol.ParseMeterAddress(s)
	return err == nil
}

// resolve checks the target against the archive: route_unknown when it is not there,
// unsupported_action when its protocol cannot do the action. Callers hold e.mu.
func (e *Engine) resolveLocked(t Target, action Action, field string) (Device, string,
	*RequestError) {
	if t.Meter != "" {
		m := e.dir.meters[t.Meter]
		if m == nil {
			return Device{}, "", unprocessable(ReasonRouteUnknown, field+".meter", t.Meter,
				"meter is not in the archive")
		}
		if !m.supports(action) {
			return Device{}, "", unprocessable(ReasonUnsupportedAction, "action",
				string(action), "a %s meter has no %s", m.Protocol, action)
		}
		if e.drivers[m.Route.Kind] == nil {
			return Device{}, "", unprocessable(ReasonRouteUnknown, field+".meter", t.Meter,
				"no driver for %s routes", m.Route.Kind)
		}
		return Device{Meter: m}, "meter/" + t.Meter, nil
	}
	term := e.dir.terminals[t.Terminal]
	if term == nil {
		return Device{}, "", unprocessable(ReasonRouteUnknown, field+".terminal", t.Terminal,
			"terminal is not in the archive")
	}
	if !terminalSupports(action) {
		return Device{}, "", unprocessable(ReasonUnsupportedAction, "action", string(action),
			"a terminal control turn has no %s", action)
	}
	if (action == ActionTrip || action == ActionAllowClose) && t.Turn == 0 {
		return Device{}, "", invalid(field+".turn", "0", "trip and allow_close need a turn")
	}
	// A terminal with no control turns (control_turns 0) rejects every turn.
	if t.Turn > term.ControlTurns {
		return Device{}, "", unprocessable(ReasonUnsupportedAction, field+".turn",
			strconv.Itoa(t.Turn), "terminal has %d control turns", term.ControlTurns)
	}
	if e.drivers[RouteTerminal] == nil {
		return Device{}, "", unprocessable(ReasonRouteUnknown, field+".terminal", t.Terminal,
			"no driver for terminal routes")
	}
	d := Device{Terminal: t.Terminal, Turn: t.Turn}
	return d, "terminal/" + t.Terminal + "/" + strconv.Itoa(t.Turn), nil
}

func validateTarget(t Target) *RequestError {
	switch {
	case t.Meter != "" && t.Terminal != "":
		return invalid("target", "", "target names both a meter and a terminal")
	case t.Meter != "":
		if !validMeterAddress(t.Meter) {
			return invalid("target.meter", t.Meter, "meter address must be 12 digits")
		}
		if t.Turn != 0 {
			return invalid("target.turn", strconv.Itoa(t.Turn), "turn is only for terminals")
		}
	case t.Terminal != "":
		if _, err := protocol.ParseTerminalAddress(t.Terminal); err != nil ||
			len(t.Terminal) != 8 {
			return invalid("target.terminal", t.Terminal,
				"terminal address must be A1 (4 digits) and A2 (4 hex digits)")
		}
		if t.Turn < 0 || t.Turn > 8 {
			return invalid("target.turn", strconv.Itoa(t.Turn), "turn must be 1 to 8")
		}
	default:
		return invalid("target", "", "target needs a meter or a terminal")
	}
	return nil
}

func hashBody(v any) string {
	data, _ := json.Marshal(v)
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// Submit validates a command request and creates the command. existing is true when the
// idempotency key repeats with the same body, and the command returned is the one it
// created. Errors are *RequestError (invalid, unprocessable, conflict) or store errors.
func (e *Engine) Submit(req Request) (cmd *Command, existing bool, err error) {
	now := e.now()
	if rerr := validateTarget(req.Target); rerr != nil {
		return nil, false, rerr
	}
	if req.Target.Terminal != "" {
		// The archive keeps A2 in upper case, so 4401abcd names terminal 4401ABCD.
		addr, _ := protocol.ParseTerminalAddress(req.Target.Terminal)
		req.Target.Terminal = addr.String()
	}
	if rerr := e.validateCommon(req.Action, req.Items, req.Deadline, req.Operator,
		req.IdempotencyKey, now); rerr != nil {
		return nil, false, rerr
	}
	keyed := req
	keyed.IdempotencyKey = ""
	if keyed.Deadline != nil {
		d := keyed.Deadline.UTC()
		keyed.Deadline = &d
	}
	hash := hashBody(keyed)

	e.mu.Lock()
	if e.closing {
		e.mu.Unlock()
		return nil, false, ErrClosed
	}
	if req.IdempotencyKey != "" {
		if rec, ok := e.idem[req.IdempotencyKey]; ok {
			e.mu.Unlock()
			return e.repeat(rec, req.IdempotencyKey, hash, false)
		}
	}
	dev, key, rerr := e.resolveLocked(req.Target, req.Action, "target")
	if rerr != nil {
		e.mu.Unlock()
		return nil, false, rerr
	}
	c := e.newCommandLocked(req.Action, req.Target, req.Items, req.Deadline, req.Operator,
		req.Force, req.IdempotencyKey, "", now)
	j := &job{cmd: c, dev: dev, key: key}
	blocked := e.interlockLocked(j, now)
	if req.IdempotencyKey != "" {
		e.idem[req.IdempotencyKey] = idemRecord{Hash: hash, Command: c.ID}
	}
	if blocked == nil {
		e.active[c.ID] = j
		e.metrics.active.WithLabelValues(string(StateQueued)).Inc()
	}
	snapshot := c.clone()
	e.mu.Unlock()

	var rec *idemRecord
	if req.IdempotencyKey != "" {
		rec = &idemRecord{Hash: hash, Command: c.ID}
	}
	if err := e.store.CreateCommands([]*Command{snapshot}, nil, req.IdempotencyKey,
		rec); err != nil {
		e.mu.Lock()
		delete(e.active, c.ID)
		delete(e.idem, req.IdempotencyKey)
		if blocked == nil {
			e.metrics.active.WithLabelValues(string(StateQueued)).Dec()
		}
		e.uncountTripLocked(j, now)
		e.mu.Unlock()
		e.log.Error("persisting a new command failed", zap.String("command", c.ID),
			zap.Error(err))
		return nil, false, err
	}
	e.metrics.submissions.Inc()
	if blocked != nil {
		e.finished(snapshot)
		e.hub.Publish(EventCommand, commandEvent(snapshot))
		return snapshot, false, nil
	}
	e.mu.Lock()
	superseded := e.supersedeLocked(j)
	e.enqueueLocked(j)
	e.mu.Unlock()
	e.hub.Publish(EventCommand, commandEvent(snapshot))
	if e.afterSupersede != nil && len(superseded) > 0 {
		e.afterSupersede(superseded)
	}
	for _, old := range superseded {
		e.transition(old, StateCancelled, &Reason{Code: ReasonSuperseded,
			Message: "superseded by command " + c.ID}, nil, "superseded by "+c.ID)
	}
	return snapshot, false, nil
}

// repeat resolves an idempotency key seen before: the earlier command, or a conflict
// naming the key when the body differs.
func (e *Engine) repeat(rec idemRecord, key, hash string, batch bool) (*Command, bool,
	error) {
	if rec.Hash != hash || (batch && rec.Batch == "") || (!batch && rec.Command == "") {
		return nil, false, &RequestError{Kind: ErrConflict, Code: "idempotency_conflict",
			Field: "idempotency_key", Value: key,
			Message: "idempotency key was used with a different request"}
	}
	if batch {
		return nil, true, nil
	}
	c, err := e.Get(rec.Command)
	return c, true, err
}

// newCommandLocked builds a queued command with the next id. Callers hold e.mu.
func (e *Engine) newCommandLocked(a Action, t Target, items []string, deadline *time.Time,
	operator string, force bool, key, batch string, now time.Time) *Command {
	e.nextCmd++
	dl := now.Add(e.cfg.DefaultDeadline)
	if deadline != nil {
		dl = *deadline
	}
	if a == ActionRead && len(items) == 0 {
		items = DefaultReadItems
	}
	now = now.UTC()
	return &Command{
		ID: formatID('c', e.nextCmd), Action: a, Target: t, Items: items, Deadline: dl.UTC(),
		Operator: operator, Force: force, State: StateQueued, CreatedAt: now, UpdatedAt: now,
		Batch: batch, IdempotencyKey: key,
		History: []HistoryEntry{{At: now, State: StateQueued}},
	}
}

// interlockLocked applies the protected-meter, protected-window and rate guards to a trip.
// A blocked command is turned into a failed one in place and the rule is returned; nil
// means the command may go. Callers hold e.mu.
func (e *Engine) interlockLocked(j *job, now time.Time) *Reason {
	c := j.cmd
	if c.Action != ActionTrip || c.Force {
		if c.Action == ActionTrip {
			e.countTripLocked(j, now)
		}
		return nil
	}
	rule, detail := e.protectionLocked(j, now)
	if rule == "" && e.cfg.TripsPerTerminalPerMinute > 0 {
		if term := terminalOf(j.dev); term != "" {
			recent := e.recentTripsLocked(term, now)
			if len(recent) >= e.cfg.TripsPerTerminalPerMinute {
				rule = ruleRateGuard
				detail = strconv.Itoa(len(recent)) + " trips on terminal " + term +
					" in the last minute reached the limit of " +
					strconv.Itoa(e.cfg.TripsPerTerminalPerMinute)
			}
		}
	}
	if rule == "" {
		e.countTripLocked(j, now)
		return nil
	}
	return e.blockLocked(c, rule, detail)
}

// protectionLocked returns the protected-meter or protected-window rule that forbids
// tripping j's device at now, or "" when none does. It reads the protected flag from the
// current archive. Callers hold e.mu.
func (e *Engine) protectionLocked(j *job, now time.Time) (rule, detail string) {
	protected := j.dev.Meter != nil && j.dev.Meter.Protected
	if m := e.dir.meters[j.cmd.Target.Meter]; m != nil && m.Protected {
		protected = true
	}
	if protected {
		return ruleProtectedMeter, "meter is marked protected in the archive"
	}
	local := now.In(e.cfg.location)
	for _, w := range e.cfg.ProtectedWindows {
		if w.contains(local) {
			return ruleProtectedWindow, "protected window " + w.Name + " (" + w.Start + "–" +
				w.End + " " + e.cfg.Timezone + ") is active"
		}
	}
	return "", ""
}

func (e *Engine) blockLocked(c *Command, rule, detail string) *Reason {
	e.metrics.interlockBlocks.WithLabelValues(rule).Inc()
	r := &Reason{Code: ReasonInterlockBlocked, Message: detail + "; resubmit with force to " +
		"override", Evidence: &Evidence{Detail: rule}}
	c.State = StateFailed
	c.Reason = r
	c.History = append(c.History, HistoryEntry{At: c.CreatedAt, State: StateFailed,
		Detail: "interlock " + rule})
	return r
}

func terminalOf(d Device) string {
	if d.Meter != nil {
		if d.Meter.Route.Kind == RouteTerminal {
			return d.Meter.Route.Terminal
		}
		return ""
	}
	return d.Terminal
}

func (e *Engine) recentTripsLocked(term string, now time.Time) []time.Time {
	list := e.trips[term]
	cut := 0
	for cut < len(list) && now.Sub(list[cut]) >= time.Minute {
		cut++
	}
	list = list[cut:]
	e.trips[term] = list
	return list
}

// uncountTripLocked takes back what countTripLocked(j, now) recorded, for a trip that
// was never stored. Callers hold e.mu.
func (e *Engine) uncountTripLocked(j *job, now time.Time) {
	if j.cmd.Action != ActionTrip || j.cmd.State != StateQueued {
		return
	}
	term := terminalOf(j.dev)
	list := e.trips[term]
	for i := len(list) - 1; i >= 0; i-- {
		if list[i].Equal(now) {
			e.trips[term] = append(list[:i:i], list[i+1:]...)
			return
		}
	}
}

func (e *Engine) countTripLocked(j *job, now time.Time) {
	if e.cfg.TripsPerTerminalPerMinute <= 0 {
		return
	}
	if term := terminalOf(j.dev); term != "" {
		e.trips[term] = append(e.recentTripsLocked(term, now), now)
	}
}

// supersedeLocked removes the queued switching commands of j's device that j replaces and
// returns them; the caller cancels them. Callers hold e.mu.
func (e *Engine) supersedeLocked(j *job) []*job {
	if !e.switching(j) {
		return nil
	}
	var old []*job
	for _, p := range e.pending[j.key] {
		if p.cmd.State == StateQueued && !p.recover {
			p.superseded = true
			old = append(old, p)
		}
	}
	e.pending[j.key] = []*job{j}
	return old
}

// Cancel cancels a command that has not been sent yet. A command already cancelled is
// returned as it is; one being sent or finished otherwise gives ErrNotCancellable.
func (e *Engine) Cancel(id string) (*Command, error) {
	e.mu.Lock()
	j, ok := e.active[id]
	e.mu.Unlock()
	if !ok {
		c, err := e.Get(id)
		if err != nil {
			return nil, err
		}
		if c.State == StateCancelled {
			return c, nil
		}
		return nil, &RequestError{Kind: ErrNotCancellable, Code: "not_cancellable",
			Field: "id", Value: id, Message: "command is already " + string(c.State)}
	}
	if !e.transition(j, StateCancelled, &Reason{Code: ReasonCancelled,
		Message: "cancelled on request"}, nil, "cancelled on request") {
		c, _ := e.Get(id)
		state := "being sent"
		if c != nil {
			state = string(c.State)
		}
		return nil, &RequestError{Kind: ErrNotCancellable, Code: "not_cancellable",
			Field: "id", Value: id, Message: "command is already " + state}
	}
	return e.Get(id)
}

// commandEvent is the payload of a command event.
func commandEvent(c *Command) map[string]any {
	ev := map[string]any{"id": c.ID, "action": c.Action, "target": c.Target,
		"state": c.State, "attempts": c.Attempts, "updated_at": c.UpdatedAt}
	if c.Batch != "" {
		ev["batch"] = c.Batch
	}
	if c.Reason != nil {
		ev["reason"] = c.Reason
	}
	if c.Result != nil {
		ev["result"] = c.Result
	}
	return ev
}
