package channels

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
)

// Moderation on the video channel:
//
//	report_annotation {"id", "reason"}  any signed-in viewer, once per item
//	hide_annotation   {"id", "reason"}  moderators: broadcast annotation_hidden {"id","rev"}
//	dismiss_report    {"id", "reason"}  moderators: closes the item's open reports
//
// Each is an event in the video's stream, appended only if the hub's fold,
// brought up to the stream's head, still allows it (see appendChecked):
// a second report by the same user, a hide of a hidden item, never lands.
//
// Moderators are told which items have open reports: their caught_up
// carries "reported", the ids, and a report or a dismissal is pushed to
// them alone as reports {"id", "open", "rev"}, open being how many
// reports of the item wait (a hide closes them too: annotation_hidden).

var (
	errNotModerator   = &clientError{"only moderators may do this"}
	errReportedTwice  = &clientError{"you already reported this item"}
	errHidden         = &clientError{"this item is hidden by a moderator"}
	errAlreadyHidden  = &clientError{"this item is already hidden"}
	errNoOpenReports  = &clientError{"this item has no open reports"}
	errReportsLimited = &clientError{"too many reports, try again later"}
	errItemNotFound   = &clientError{"id must be the id of an annotation of this video"}
)

// modState is what a hub's fold keeps of moderation and reactions, beside
// the annotations. Guarded by hub.mu, written by the fold only.
type modState struct {
	hidden    map[int64]bool
	reporters map[int64]map[int64]bool // item -> users who ever reported it
	open      map[int64]int            // item -> reports not yet hidden or dismissed
	reacts    reactState
}

func (m *modState) init() {
	if m.hidden == nil {
		m.hidden = make(map[int64]bool)
		m.reporters = make(map[int64]map[int64]bool)
		m.open = make(map[int64]int)
		m.reacts.init()
	}
}

// foldModeration applies the moderation and reaction events of the
// video's stream; see hub.fold for rev and what it returns.
func (h *hub) foldModeration(ev *eventstore.RecordedEvent, rev int64) (event string, payload []byte, err error) {
	m := &h.mod
	m.init()
	switch ev.Type {
	case domain.TypeAnnotationReported:
		var e domain.AnnotationReported
		if err := json.Unmarshal(ev.Data, &e); err != nil {
			return "", nil, err
		}
		if m.reporters[e.AnnotationID] == nil {
			m.reporters[e.AnnotationID] = make(map[int64]bool)
		}
		if !m.reporters[e.AnnotationID][e.UserID] {
			m.reporters[e.AnnotationID][e.UserID] = true
			if !m.hidden[e.AnnotationID] {
				m.open[e.AnnotationID]++
				return h.reportsPush(e.AnnotationID, rev)
			}
		}
	case domain.TypeReportsDismissed:
		var e domain.ReportsDismissed
		if err := json.Unmarshal(ev.Data, &e); err != nil {
			return "", nil, err
		}
		if m.open[e.AnnotationID] > 0 {
			delete(m.open, e.AnnotationID)
			return h.reportsPush(e.AnnotationID, rev)
		}
	case domain.TypeAnnotationHidden:
		var e domain.AnnotationHidden
		if err := json.Unmarshal(ev.Data, &e); err != nil {
			return "", nil, err
		}
		a, ok := h.ann.Get(e.AnnotationID)
		if !ok || m.hidden[e.AnnotationID] {
			return "", nil, nil
		}
		m.hidden[a.ID] = true
		delete(m.open, a.ID)
		h.changes = append(h.changes, change{rev: rev, id: a.ID})
		if a.Deleted {
			return "", nil, nil
		}
		return "annotation_hidden", idRevPayload(a.ID, h.pushRev(rev)), nil
	case domain.TypeReactionSet:
		var e domain.ReactionSet
		if err := json.Unmarshal(ev.Data, &e); err != nil {
			return "", nil, err
		}
		if h.foldReaction(e, rev) {
			h.changes = append(h.changes, change{rev: rev, id: e.AnnotationID})
		}
	}
	return "", nil, nil
}

// reportsPush is the push to moderators of item id's open reports, at
// client revision rev. h.mu is held.
func (h *hub) reportsPush(id, rev int64) (event string, payload []byte, err error) {
	h.moderatorsOnly = true
	return "reports", fmt.Appendf(nil, `{"id":%d,"open":%d,"rev":%d}`, id, h.mod.open[id], h.pushRev(rev)), nil
}

// withReported is the caught_up payload p with "reported": the items
// with open reports, in id order. h.mu is held.
func (h *hub) withReported(p []byte) []byte {
	ids := make([]int64, 0, len(h.mod.open))
	for id := range h.mod.open {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return append(appendIDs(p[:len(p)-1:len(p)-1], `,"reported":[`, ids), '}')
}

// isModeration reports whether typ is an event foldModeration applies.
func isModeration(typ string) bool {
	switch typ {
	case domain.TypeAnnotationReported, domain.TypeAnnotationHidden, domain.TypeReportsDismissed, domain.TypeReactionSet:
		return true
	}
	return false
}

// idRevPayload is {"id": id, "rev": rev}.
func idRevPayload(id, rev int64) []byte {
	return fmt.Appendf(nil, `{"id":%d,"rev":%d}`, id, rev)
}

// itemLocked checks that id is an item of the video that the fold shows
// live: not deleted, and not hidden unless hiddenOK. h.mu is held.
func (h *hub) itemLocked(id int64, hiddenOK bool) (*domain.Annotation, error) {
	a, ok := h.ann.Get(id)
	switch {
	case !ok:
		return nil, errItemNotFound
	case a.Deleted:
		return nil, domain.ErrAnnotationGone
	case h.mod.hidden[id] && !hiddenOK:
		return nil, errHidden
	}
	return a, nil
}

// isHidden reports whether a moderator hid item id. h.mu is held.
func (h *hub) isHidden(id int64) bool { return h.mod.hidden[id] }

// idReason reads {"id", "reason"}.
func idReason(payload json.RawMessage, required bool) (int64, string, error) {
	var p struct {
		ID     json.RawMessage `json:"id"`
		Reason json.RawMessage `json:"reason"`
	}
	if err := json.Unmarshal(payload, &p); err != nil {
		return 0, "", refuse("payload must be an object")
	}
	id, err := idField(p.ID)
	if err != nil {
		return 0, "", err
	}
	var reason string
	if len(p.Reason) > 0 && string(p.Reason) != "null" {
		if json.Unmarshal(p.Reason, &reason) != nil {
			return 0, "", refuse("reason must be a string of at most %d bytes", domain.MaxReasonBytes)
		}
	}
	reason, err = domain.NormalizeReason(reason, required)
	if err != nil {
		return 0, "", err
	}
	return id, reason, nil
}

// moderator refuses a user without the moderator role (admins have it).
func (s *subscription) moderator(ctx context.Context) error {
	ok, err := s.c.srv.deps.Users.Moderator(ctx, s.c.user.id)
	if err != nil {
		return fmt.Errorf("check role: %w", err)
	}
	if !ok {
		return errNotModerator
	}
	return nil
}

// stillModerator reports whether s is to be told what moderators are:
// it had the role at its join, and has it now, so that a revoke stops the
// pushes without a rejoin. A failed lookup counts as a revoke. The
// lookup is of the accounts' model in memory: the hub's lock is held, and
// moderators' pushes are rare (reports are rate-limited).
func (s *subscription) stillModerator(ctx context.Context) bool {
	if s.isModerator {
		ok, err := s.c.srv.deps.Users.Moderator(ctx, s.c.user.id)
		s.isModerator = err == nil && ok
	}
	return s.isModerator
}

// event is an event of s's user, the client address in its metadata
// sealed with their key.
func (s *subscription) event(ctx context.Context, typ string, v any) (eventstore.EventData, error) {
	return s.c.srv.event(ctx, s.actor(), typ, v)
}

func (s *subscription) report(ctx context.Context, payload json.RawMessage) error {
	id, reason, err := idReason(payload, true)
	if err != nil {
		return err
	}
	h, user := s.hub, s.c.user.id
	check := func() error {
		if _, err := h.itemLocked(id, false); err != nil {
			return err
		}
		if h.mod.reporters[id][user] {
			return errReportedTwice
		}
		return nil
	}
	if _, err := h.checkLocked(ctx, id, check); err != nil {
		return err
	}
	if !s.c.srv.limits.reports.Allow(user, s.c.srv.cfg.Now()) {
		return errReportsLimited
	}
	ev, err := s.c.srv.moderationEvent(ctx, s.actor(), domain.TypeAnnotationReported, reason, func(name, reason string) any {
		return domain.AnnotationReported{AnnotationID: id, UserID: user, Username: name, Reason: reason}
	})
	if err != nil {
		return err
	}
	return h.appendChecked(ctx, id, check, ev)
}

func (s *subscription) hide(ctx context.Context, payload json.RawMessage) error {
	if err := s.moderator(ctx); err != nil {
		return err
	}
	id, reason, err := idReason(payload, true)
	if err != nil {
		return err
	}
	return s.hub.hide(ctx, s.actor(), id, reason)
}

func (s *subscription) dismiss(ctx context.Context, payload json.RawMessage) error {
	if err := s.moderator(ctx); err != nil {
		return err
	}
	id, reason, err := idReason(payload, false)
	if err != nil {
		return err
	}
	return s.hub.dismiss(ctx, s.actor(), id, reason)
}

// handleModeration runs the moderation and reaction pushes; handled is
// false for any other event.
func (s *subscription) handleModeration(ctx context.Context, event string, payload json.RawMessage) (handled bool, err error) {
	switch event {
	case "report_annotation":
		return true, s.report(ctx, payload)
	case "hide_annotation":
		return true, s.hide(ctx, payload)
	case "dismiss_report":
		return true, s.dismiss(ctx, payload)
	case "react":
		return true, s.react(ctx, payload)
	}
	return false, nil
}
