package gateway

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"
)

// allowedFrom reports whether a command in state from may move to state to.
func allowedFrom(from, to State, recovering bool) bool {
	if from.Final() {
		return false
	}
	switch to {
	case StateQueued:
		return false
	case StateCancelled:
		return from == StateQueued && !recovering
	case StateSending:
		return from == StateQueued || recovering
	}
	return true
}

type change struct {
	j      *job
	to     State
	reason *Reason
	result *Result
	detail string
	// retry records a new attempt in the command's current state instead of moving it.
	retry bool
}

// transition moves one command to a new state, persists it and then publishes it. It
// returns false when the move is not allowed from the command's current state.
func (e *Engine) transition(j *job, to State, reason *Reason, result *Result,
	detail string) bool {
	return e.apply([]change{{j: j, to: to, reason: reason, result: result, detail: detail}}) == 1
}

// apply carries out state changes, persisting them in one transaction before publishing
// any event, and returns how many were allowed.
//
// Readers see a change only once it is stored. The batch counts, the command that Get
// returns and the active set are updated after the store write, so a batch never reports
// a command final while the store still contains an earlier state.
func (e *Engine) apply(changes []change) int {
	now := e.now().UTC()
	snaps := make([]*Command, 0, len(changes))
	applied := make([]change, 0, len(changes))
	froms := make([]State, 0, len(changes))
	e.mu.Lock()
	for _, ch := range changes {
		c := ch.j.cmd
		from := c.State
		if ch.retry {
			if from != ch.to || from.Final() {
				continue
			}
		} else if !allowedFrom(from, ch.to, ch.j.recover) {
			continue
		}
		if ch.j.superseded && ch.to != StateCancelled {
			continue
		}
		c.State = ch.to
		if !ch.retry {
			c.Reason = ch.reason
		}
		if ch.result != nil {
			c.Result = ch.result
		}
		c.UpdatedAt = now
		c.History = append(c.History, HistoryEntry{At: now, State: ch.to, Detail: ch.detail})
		e.metrics.active.WithLabelValues(string(from)).Dec()
		if from == StateQueued && !ch.retry {
			e.queued--
			e.dropPendingLocked(ch.j)
		}
		if ch.to.Final() {
			if c.Result != nil && c.Target.Meter != "" {
				e.rememberLocked(c, now)
			}
		} else {
			e.metrics.active.WithLabelValues(string(ch.to)).Inc()
		}
		snaps = append(snaps, c.clone())
		applied = append(applied, ch)
		froms = append(froms, from)
	}
	e.metrics.queueDepth.Set(float64(e.queued))
	e.mu.Unlock()
	if len(snaps) == 0 {
		return 0
	}
	var err error
	if len(snaps) == 1 {
		err = e.store.PutCommand(snaps[0])
	} else {
		err = e.store.PutCommands(snaps)
	}
	if err != nil {
		// NOTE: the in-memory state has moved on. The store catches up at the command's
		// next change, so a restart before that replays the older stored state.
		e.log.Error("persisting a command state failed", zap.String("command", snaps[0].ID),
			zap.Int("commands", len(snaps)), zap.Error(err))
	}
	doneBatches := e.publishLocally(applied, froms, snaps)
	for _, s := range snaps {
		e.hub.Publish(EventCommand, commandEvent(s))
		if s.State.Final() {
			e.finished(s)
		}
	}
	for _, b := range doneBatches {
		e.hub.Publish(EventBatch, b)
	}
	return len(snaps)
}

// publishLocally makes persisted changes visible to readers of the engine: the command
// snapshot Get returns, the batch counts, and the active set, which a finished command
// leaves. It returns the batches whose last command has just become final.
func (e *Engine) publishLocally(applied []change, froms []State, snaps []*Command) []*Batch {
	var doneBatches []*Batch
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, ch := range applied {
		snap := snaps[i]
		j := ch.j
		// Stores may complete out of order; a snapshot with a longer history is newer.
		if j.visible == nil || len(snap.History) > len(j.visible.History) {
			j.visible = snap
		}
		if bs := e.batches[snap.Batch]; bs != nil {
			bs.batch.Counts[froms[i]]--
			bs.batch.Counts[ch.to]++
			if ch.to.Final() && bs.batch.Counts[StateQueued]+bs.batch.Counts[StateSending]+
				bs.batch.Counts[StateVerifying] == 0 {
				doneBatches = append(doneBatches, bs.copyBatch())
			}
		}
		if ch.to.Final() && e.active[snap.ID] == j {
			delete(e.active, snap.ID)
		}
	}
	return doneBatches
}

func (e *Engine) dropPendingLocked(j *job) {
	list := e.pending[j.key]
	for i, p := range list {
		if p == j {
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(e.pending, j.key)
	} else {
		e.pending[j.key] = list
	}
}

// rememberLocked keeps the last relay state and reading of a meter for the meters API.
func (e *Engine) rememberLocked(c *Command, now time.Time) {
	st := e.meters[c.Target.Meter]
	if st == nil {
		st = &meterState{}
		e.meters[c.Target.Meter] = st
	}
	at := now
	if c.Result.Relay != nil {
		st.Relay, st.RelayAt = c.Result.Relay, &at
	}
	if len(c.Result.Readings) > 0 {
		st.Readings, st.ReadingAt = c.Result.Readings, &at
	}
}

// finished counts a command that reached a final state.
func (e *Engine) finished(c *Command) {
	reason := ""
	if c.Reason != nil {
		reason = c.Reason.Code
	}
	e.metrics.commands.WithLabelValues(string(c.Action), string(c.State), reason).Inc()
	e.metrics.latency.WithLabelValues(string(c.Action), string(c.State)).Observe(
		c.UpdatedAt.Sub(c.CreatedAt).Seconds())
}

func (e *Engine) bumpAttempts(j *job) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	j.cmd.Attempts++
	return j.cmd.Attempts
}

// retryAfter counts a new attempt after the failed one ended with err and returns its
// number. A retry is persisted and published like a state change: the command keeps its
// state, gains the attempt count and a history entry naming the failure that caused it.
func (e *Engine) retryAfter(j *job, err error) int {
	n := e.bumpAttempts(j)
	e.mu.Lock()
	state := j.cmd.State
	e.mu.Unlock()
	detail := fmt.Sprintf("attempt %d of %d after %s", n, e.cfg.MaxAttempts, failureCode(err))
	e.log.Info("retrying command", zap.String("command", j.cmd.ID), zap.Int("attempt", n),
		zap.Int("max_attempts", e.cfg.MaxAttempts), zap.Error(err))
	e.apply([]change{{j: j, to: state, detail: detail, retry: true}})
	return n
}

// nextAttempt counts the next attempt and returns its number. It records a retry (see
// retryAfter) when an earlier attempt failed with lastErr and this number was not recorded
// yet: an attempt taken back while waiting for a terminal to log in is not recorded twice.
func (e *Engine) nextAttempt(j *job, lastErr error, recorded *int) int {
	e.mu.Lock()
	next := j.cmd.Attempts + 1
	e.mu.Unlock()
	if lastErr == nil || next <= *recorded {
		return e.bumpAttempts(j)
	}
	*recorded = next
	return e.retryAfter(j, lastErr)
}

// failureCode returns the reason code of a driver error, or the error text.
func failureCode(err error) string {
	var f *Failure
	if errors.As(err, &f) {
		return f.Code
	}
	return err.Error()
}

// runChannel is the worker of one channel: it runs the channel's commands one at a time.
func (e *Engine) runChannel(ch *channel) {
	defer e.workers.Done()
	for {
		e.mu.Lock()
		for len(ch.queue) == 0 && !e.closing {
			e.mu.Unlock()
			<-ch.wake
			e.mu.Lock()
		}
		if e.closing {
			e.mu.Unlock()
			return
		}
		j := ch.queue[0]
		ch.queue[0] = nil
		ch.queue = ch.queue[1:]
		if len(ch.queue) == 0 {
			ch.queue = nil
		}
		runnable := j.cmd.State == StateQueued || (j.recover && !j.cmd.State.Final())
		e.mu.Unlock()
		if runnable {
			e.execute(j)
		}
	}
}

func (e *Engine) driverFor(d Device) Driver {
	if d.Meter != nil {
		return e.drivers[d.Meter.Route.Kind]
	}
	return e.drivers[RouteTerminal]
}

// execute runs one command to a final state, unless the engine stops first.
func (e *Engine) execute(j *job) {
	c := j.cmd
	log := e.log.With(zap.String("command", c.ID), zap.String("action", string(c.Action)),
		zap.String("meter", c.Target.Meter), zap.String("terminal", terminalOf(j.dev)))
	if !e.now().Before(c.Deadline) {
		msg := "deadline passed before the command was sent"
		if j.recover && c.State != StateQueued {
			// The command was in flight at the stop, so the device may have it.
			msg = "deadline passed while the gateway was stopped; the command was being " +
				"sent at the stop and may have reached the device, so read its relay state"
		}
		e.transition(j, StateExpired, &Reason{Code: ReasonDeadlineExpired, Message: msg},
			nil, "")
		return
	}
	drv := e.driverFor(j.dev)
	if j.dev.Meter == nil && c.Target.Meter != "" {
		e.transition(j, StateFailed, &Reason{Code: ReasonRouteUnknown,
			Message: "the meter left the archive while the command was queued"}, nil, "")
		return
	}
	if drv == nil {
		e.transition(j, StateFailed, &Reason{Code: ReasonInternal,
			Message: "no driver for the command's route"}, nil, "")
		return
	}
	if rule, why := e.blockedAtSend(j); rule != "" {
		log.Warn("interlock blocked a queued trip at send time", zap.String("rule", rule))
		e.transition(j, StateFailed, &Reason{Code: ReasonInterlockBlocked,
			Message:  why + "; resubmit with force to override",
			Evidence: &Evidence{Detail: rule}}, nil, "interlock "+rule)
		return
	}
	detail := ""
	if j.recover {
		detail = "resumed after restart"
		log.Info("recovering a command that was in flight at the last stop",
			zap.String("state", string(c.State)))
	}
	if !e.transition(j, StateSending, nil, nil, detail) {
		return
	}
	ctx, cancel := context.WithDeadline(e.runCtx, c.Deadline)
	defer cancel()
	result, reason := e.run(ctx, j, drv)
	if e.runCtx.Err() != nil {
		log.Info("engine stopped while the command was in flight; it resumes at next start")
		return
	}
	switch {
	case reason == nil:
		e.transition(j, StateSucceeded, nil, result, "")
	case reason.Code == ReasonDeadlineExpired:
		e.transition(j, StateExpired, reason, nil, "")
	default:
		log.Info("command failed", zap.String("reason", reason.Code),
			zap.String("message", reason.Message))
		e.transition(j, StateFailed, reason, nil, "")
	}
}

// blockedAtSend applies the protected-meter and protected-window interlocks again when a
// trip leaves the queue, because a window may have opened or the archive may have marked
// the meter protected while it waited. Recovered trips are checked in runControl once
// the status shows that the meter does not have them yet.
func (e *Engine) blockedAtSend(j *job) (rule, detail string) {
	if j.recover {
		return "", ""
	}
	return e.protectedNow(j)
}

// protectedNow returns the protected-meter or protected-window rule that forbids sending
// j's trip now, counting the block, or "" for a forced trip or another action.
func (e *Engine) protectedNow(j *job) (rule, detail string) {
	if j.cmd.Action != ActionTrip || j.cmd.Force {
		return "", ""
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	rule, detail = e.protectionLocked(j, e.now())
	if rule != "" {
		e.metrics.interlockBlocks.WithLabelValues(rule).Inc()
	}
	return rule, detail
}

func (e *Engine) deadlineReason(attempts int) *Reason {
	return &Reason{Code: ReasonDeadlineExpired, Message: "deadline passed before the " +
		"command finished", Evidence: &Evidence{Attempts: attempts}}
}

// reasonOf turns a driver error into a failure reason with the attempt count.
func (e *Engine) reasonOf(ctx context.Context, err error, attempts int) *Reason {
	if ctx.Err() != nil {
		return e.deadlineReason(attempts)
	}
	var f *Failure
	if !errors.As(err, &f) {
		return &Reason{Code: ReasonInternal, Message: err.Error(),
			Evidence: &Evidence{Attempts: attempts}}
	}
	ev := Evidence{}
	if f.Evidence != nil {
		ev = *f.Evidence
	}
	ev.Attempts = attempts
	return &Reason{Code: f.Code, Message: f.Message, Evidence: &ev}
}

func retryable(err error) bool {
	var f *Failure
	return errors.As(err, &f) && f.Retryable
}

// attempt runs fn until it succeeds, fails for good, or MaxAttempts is reached.
func (e *Engine) attempt(ctx context.Context, j *job, fn func() error) *Reason {
	var timedOut, lastErr error
	recorded := 0
	for {
		n := e.nextAttempt(j, lastErr, &recorded)
		err := fn()
		if err == nil {
			return nil
		}
		err = keepTimeout(timedOut, err)
		if isCode(err, ReasonTerminalTimeout) {
			timedOut = err
		}
		if e.awaitTerminal(ctx, err) {
			e.unbumpAttempts(j)
			continue
		}
		if ctx.Err() != nil || !retryable(err) || n >= e.cfg.MaxAttempts {
			return e.reasonOf(ctx, err, n)
		}
		lastErr = err
	}
}

// awaitTerminal waits a moment and returns true when err reports the terminal offline
// within StartupGrace of the engine's start. Terminals log in again after a gateway
// restart, so a command waits for them instead of failing.
func (e *Engine) awaitTerminal(ctx context.Context, err error) bool {
	if !isCode(err, ReasonTerminalOffline) || e.now().Sub(e.openedAt) >= e.cfg.StartupGrace {
		return false
	}
	select {
	case <-ctx.Done():
		return false
	case <-time.After(250 * time.Millisecond):
		return true
	}
}

// unbumpAttempts takes back an attempt that waited for a terminal instead of sending.
func (e *Engine) unbumpAttempts(j *job) {
	e.mu.Lock()
	j.cmd.Attempts--
	e.mu.Unlock()
}

func isCode(err error, code string) bool {
	var f *Failure
	return errors.As(err, &f) && f.Code == code
}

// keepTimeout reports a terminal that dropped offline after an unanswered request as the
// timeout it is to the command: the request was in flight when the session ended.
func keepTimeout(timedOut, err error) error {
	if timedOut != nil && isCode(err, ReasonTerminalOffline) {
		return timedOut
	}
	return err
}

func (e *Engine) run(ctx context.Context, j *job, drv Driver) (*Result, *Reason) {
	c := j.cmd
	if c.Action.IsControl() {
		return e.runControl(ctx, j, drv)
	}
	info, _ := lookupAction(c.Action)
	res := &Result{Outcome: info.outcome}
	var reason *Reason
	switch c.Action {
	case ActionRead:
		reason = e.attempt(ctx, j, func() error {
			r, err := drv.Read(ctx, j.dev, c.Items)
			res.Readings = r
			return err
		})
		res.Relay = relayFromReadings(res.Readings)
	case ActionSyncTime:
		reason = e.attempt(ctx, j, func() error {
			return drv.SyncTime(ctx, j.dev, e.now().In(e.cfg.location))
		})
	case ActionPing:
		reason = e.attempt(ctx, j, func() error { return drv.Ping(ctx, j.dev) })
	default:
		reason = &Reason{Code: ReasonInternal, Message: "no plan for action " +
			string(c.Action)}
	}
	if reason != nil {
		return nil, reason
	}
	return res, nil
}

// relayFromReadings fills the result's relay from a relay_state reading, when read.
func relayFromReadings(r map[string]Reading) *Relay {
	v, ok := r["relay_state"]
	if !ok {
		return nil
	}
	if rel, ok := v.Value.(Relay); ok {
		return &rel
	}
	if s, ok := v.Value.(string); ok {
		return &Relay{State: s}
	}
	return nil
}

// commandShows reports whether the status shows that the device already has the control:
// the relay command state (645 status word 3 bit6) for switching, bits 7 and 12 otherwise.
func commandShows(a Action, st RelayStatus) bool {
	switch a {
	case ActionTrip:
		return st.CommandOpen
	case ActionAllowClose, ActionClose:
		return !st.CommandOpen
	case ActionAlarm:
		return st.Alarm
	case ActionAlarmRelease:
		return !st.Alarm
	case ActionGuarantee:
		return st.Guarantee
	case ActionGuaranteeRelease:
		return !st.Guarantee
	}
	return false
}

// relayMatches reports whether the status proves the control took effect. An allowed close
// leaves the relay open until the customer presses the button, so a released relay command
// state is enough for it.
func relayMatches(a Action, st RelayStatus) bool {
	switch a {
	case ActionTrip:
		return st.Open
	case ActionAllowClose:
		return !st.CommandOpen || !st.Open
	case ActionClose:
		return !st.Open
	}
	return commandShows(a, st)
}

func (e *Engine) runControl(ctx context.Context, j *job, drv Driver) (*Result, *Reason) {
	c := j.cmd
	sent := false
	if j.recover {
		// Never send blindly after a restart: the meter may already have the command. A
		// status that cannot be read fails the command rather than risk a second send.
		var st RelayStatus
		reason := e.attempt(ctx, j, func() error {
			var err error
			st, err = drv.Status(ctx, j.dev)
			return err
		})
		if reason != nil {
			return nil, reason
		}
		if commandShows(c.Action, st) {
			sent = true
			e.log.Info("status shows the command already; verifying only",
				zap.String("command", c.ID), zap.Int("status_word_3", st.Word))
		} else if rule, why := e.protectedNow(j); rule != "" {
			// The meter does not have the trip, so sending it now would be a new trip
			// inside the protection.
			return nil, &Reason{Code: ReasonInterlockBlocked,
				Message:  why + "; resubmit with force to override",
				Evidence: &Evidence{Detail: rule}}
		}
	}
	var timedOut, lastErr error
	recorded := 0
	for !sent {
		n := e.nextAttempt(j, lastErr, &recorded)
		err := drv.Control(ctx, j.dev, Control{Action: c.Action,
			Deadline: c.Deadline.In(e.cfg.location), Operator: c.Operator})
		if err == nil {
			break
		}
		err = keepTimeout(timedOut, err)
		if isCode(err, ReasonTerminalTimeout) {
			timedOut = err
		}
		if e.awaitTerminal(ctx, err) {
			e.unbumpAttempts(j)
			continue
		}
		if ctx.Err() != nil || !retryable(err) || n >= e.cfg.MaxAttempts {
			return nil, e.reasonOf(ctx, err, n)
		}
		// A control that timed out may have reached the device: look before resending.
		if st, serr := drv.Status(ctx, j.dev); serr == nil && commandShows(c.Action, st) {
			sent = true
		}
		lastErr = err
	}
	if !e.transition(j, StateVerifying, nil, nil, "") {
		return nil, &Reason{Code: ReasonInternal, Message: "command left the sending state"}
	}
	return e.verify(ctx, j, drv)
}

// verify reads the device back until it matches the control or the verify window ends.
func (e *Engine) verify(ctx context.Context, j *job, drv Driver) (*Result, *Reason) {
	c := j.cmd
	end := e.now().Add(e.cfg.VerifyWindow)
	var last *RelayStatus
	var lastErr error
	reads := 0
	for {
		st, err := drv.Status(ctx, j.dev)
		reads++
		if err == nil {
			last = &st
			if relayMatches(c.Action, st) {
				return e.controlResult(c.Action, st), nil
			}
		} else {
			if ctx.Err() != nil {
				return nil, e.deadlineReason(c.Attempts)
			}
			lastErr = err
		}
		if !e.now().Add(e.cfg.VerifyInterval).Before(end) {
			break
		}
		select {
		case <-ctx.Done():
			return nil, e.deadlineReason(c.Attempts)
		case <-time.After(e.cfg.VerifyInterval):
		}
	}
	if last == nil && lastErr != nil {
		return nil, e.reasonOf(ctx, lastErr, c.Attempts)
	}
	ev := statusEvidence(*last)
	ev.Attempts = c.Attempts
	ev.Detail = fmt.Sprintf("%d status reads in %s did not show %s", reads,
		e.cfg.VerifyWindow, c.Action)
	return nil, &Reason{Code: ReasonVerifyMismatch, Message: "device state does not match " +
		"the command after the verify window", Evidence: &ev}
}

func openClosed(open bool) string {
	if open {
		return "open"
	}
	return "closed"
}

func statusEvidence(st RelayStatus) Evidence {
	ev := Evidence{RelayState: openClosed(st.Open), CommandState: openClosed(st.CommandOpen),
		PowerKW: st.PowerKW, EnergyKWh: st.EnergyKWh, FrameHex: st.FrameHex}
	if st.Word >= 0 {
		ev.StatusWord3 = fmt.Sprintf("%04X", st.Word)
	}
	return ev
}

func (e *Engine) controlResult(a Action, st RelayStatus) *Result {
	info, _ := lookupAction(a)
	res := &Result{Outcome: info.outcome, Relay: &Relay{State: openClosed(st.Open),
		CommandState: openClosed(st.CommandOpen), Guarantee: st.Guarantee, Alarm: st.Alarm}}
	res.Readings = map[string]Reading{}
	switch {
	case st.WordReading != nil:
		res.Readings["status_word_3"] = Reading{Value: st.WordReading}
	case st.Word >= 0:
		res.Readings["status_word_3"] = Reading{Value: fmt.Sprintf("%04X", st.Word)}
	}
	if st.PowerKW != nil {
		res.Readings["power"] = Reading{Value: *st.PowerKW, Unit: "kW"}
	}
	if st.EnergyKWh != nil {
		res.Readings["energy_forward_total"] = Reading{Value: *st.EnergyKWh, Unit: "kWh"}
	}
	res.SuspectedBypass = st.Open && st.PowerKW != nil && *st.PowerKW > e.cfg.BypassThresholdKW
	return res
}

// deadlineHeap orders jobs by deadline for the sweeper.
type deadlineHeap []*job

func (h deadlineHeap) Len() int           { return len(h) }
func (h deadlineHeap) Less(i, j int) bool { return h[i].cmd.Deadline.Before(h[j].cmd.Deadline) }
func (h deadlineHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *deadlineHeap) Push(x any)        { *h = append(*h, x.(*job)) }
func (h *deadlineHeap) Pop() any {
	old := *h
	j := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return j
}
func (h *deadlineHeap) push(j *job) { heap.Push(h, j) }

// sweep expires queued commands whose deadline passed while they waited in a queue.
func (e *Engine) sweep() {
	defer e.background.Done()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-e.stopSweep:
			return
		case <-tick.C:
		}
		now := e.now()
		var changes []change
		e.mu.Lock()
		for e.deadlines.Len() > 0 && !e.deadlines[0].cmd.Deadline.After(now) {
			j := heap.Pop(&e.deadlines).(*job)
			if j.cmd.State == StateQueued {
				changes = append(changes, change{j: j, to: StateExpired, reason: &Reason{
					Code: ReasonDeadlineExpired, Message: "deadline passed while the command " +
						"waited in its channel queue"}})
			}
		}
		e.mu.Unlock()
		if len(changes) > 0 {
			e.apply(changes)
		}
	}
}
