package kurrentdb

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/kurrent-io/KurrentDB-Client-Go/kurrentdb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/videologue/videologue/eventstore"
)

// ErrTooManyEvents: an append of more events than a position can number
// (65535); split it.
var ErrTooManyEvents = errors.New("too many events in one append for KurrentDB positions")

// positionTimeout bounds the read that follows a successful append to learn
// its position, which runs even if the appender's context ends meanwhile:
// the events are written, and the appender must learn where.
const positionTimeout = 30 * time.Second

// Append writes events to stream with KurrentDB's AppendToStream, which
// makes them durable (replicated to a quorum in a cluster) and visible
// together, with expected mapped to the stream state KurrentDB checks.
func (s *Store) Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	fail := func(err error) (eventstore.AppendResult, error) {
		return eventstore.AppendResult{}, s.opError(ctx, "append", stream, err)
	}
	if err := eventstore.ValidateAppend(stream, events); err != nil {
		return eventstore.AppendResult{}, &eventstore.Error{Op: "append", Stream: stream, Err: err}
	}
	if len(events) > maxAppendEvents {
		err := fmt.Errorf("%w: %d events, at most %d", ErrTooManyEvents, len(events), maxAppendEvents)
		return eventstore.AppendResult{}, &eventstore.Error{Op: "append", Stream: stream, Err: err}
	}
	done, err := s.begin()
	if err != nil {
		return fail(err)
	}
	defer done()
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	name := s.name(stream)
	state, ok := streamState(expected)
	if !ok {
		// An exact revision beyond int64 is one KurrentDB cannot hold (and
		// would read as a special state): no stream is ever there.
		actual, err := s.lastRevision(ctx, name)
		if err != nil {
			return fail(err)
		}
		return eventstore.AppendResult{}, &eventstore.WrongExpectedRevisionError{Stream: stream, Expected: expected, Actual: actual}
	}
	evs := make([]kurrentdb.EventData, len(events))
	for i, e := range events {
		id := e.ID
		if id == "" {
			id = eventstore.NewID()
		}
		u, same := eventUUID(id)
		env := envelope{I: i, N: len(events)}
		if !same {
			env.ID = id
		}
		evs[i] = kurrentdb.EventData{
			EventID:     u,
			EventType:   e.Type,
			ContentType: kurrentdb.ContentTypeBinary,
			Data:        e.Data,
			Metadata:    encodeMetadata(env, e.Metadata),
		}
		if len(e.Data) > 0 { // valid JSON, checked by ValidateAppend
			evs[i].ContentType = kurrentdb.ContentTypeJson
		}
	}
	res, err := s.client.AppendToStream(ctx, name, kurrentdb.AppendToStreamOptions{StreamState: state}, evs...)
	if err != nil {
		if wre := s.wrongExpected(ctx, stream, expected, err); wre != nil {
			return eventstore.AppendResult{}, wre
		}
		if ctx.Err() != nil {
			return fail(fmt.Errorf("%w (the append may have been written)", ctx.Err()))
		}
		if tooLarge(err) {
			return fail(fmt.Errorf("%w: the append exceeds the server's maximum append size (raise KURRENTDB_MAX_APPEND_SIZE): %v", eventstore.ErrEventTooLarge, err))
		}
		return fail(err)
	}

	// The response's position is not the first event's (KurrentDB reports
	// one position per append), so read the first event back. The stream
	// holds it at a revision that never changes.
	last := res.NextExpectedVersion
	first := last + 1 - uint64(len(events))
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), positionTimeout)
	defer cancel()
	base, err := s.appendBase(pctx, baseKey{name, first})
	if err != nil {
		return fail(fmt.Errorf("appended at revisions %d to %d, but reading back the position failed: %w", first, last, err))
	}
	firstPos, err := pack(base, 0)
	if err != nil {
		return fail(err)
	}
	return eventstore.AppendResult{
		NextExpected:  last,
		FirstPosition: firstPos,
		LastPosition:  firstPos + uint64(len(events)-1),
	}, nil
}

// streamState maps an expected revision to KurrentDB's, and false for an
// exact revision KurrentDB cannot represent.
func streamState(e eventstore.ExpectedRevision) (kurrentdb.StreamState, bool) {
	switch {
	case e.IsNoStream():
		return kurrentdb.NoStream{}, true
	case e.IsStreamExists():
		return kurrentdb.StreamExists{}, true
	}
	if rev, ok := e.Revision(); ok {
		if rev > math.MaxInt64 {
			return nil, false
		}
		return kurrentdb.Revision(rev), true
	}
	return kurrentdb.Any{}, true
}

// wrongExpected turns KurrentDB's failed expectation into the store's,
// with the stream's revision as the server reported it, and returns nil for
// any other error.
func (s *Store) wrongExpected(ctx context.Context, stream string, expected eventstore.ExpectedRevision, err error) error {
	var kerr *kurrentdb.Error
	if !errors.As(err, &kerr) {
		return nil
	}
	actual, ok := int64(0), false
	switch kerr.Code() {
	case kurrentdb.ErrorCodeWrongExpectedVersion:
		if kerr.Err() != nil {
			actual, ok = parseActual(kerr.Err().Error())
		}
	case kurrentdb.ErrorCodeStreamRevisionConflict:
		var c *kurrentdb.StreamRevisionConflictError
		if errors.As(kerr.Err(), &c) {
			switch st := c.ActualRevision.(type) {
			case kurrentdb.NoStream:
				actual, ok = -1, true
			case kurrentdb.StreamRevision:
				actual, ok = int64(st.Value), st.Value <= math.MaxInt64
			}
		}
	default:
		return nil
	}
	if !ok {
		// The error did not say: ask the stream. Another append may have
		// moved it since, so this is the revision soon after the failure.
		var rerr error
		if actual, rerr = s.lastRevision(ctx, s.name(stream)); rerr != nil {
			actual = -1
			s.logger.Warn("KurrentDB: the stream's revision after a failed expectation is unknown", "stream", stream, "error", rerr)
		}
	}
	return &eventstore.WrongExpectedRevisionError{Stream: stream, Expected: expected, Actual: actual}
}

// lastRevision is the revision of the last event of KurrentDB stream name,
// or -1 when it has none.
func (s *Store) lastRevision(ctx context.Context, name string) (int64, error) {
	evs, err := s.readKurrentStream(ctx, name, kurrentdb.Backwards, kurrentdb.End{}, 1)
	if err != nil || len(evs) == 0 {
		return -1, err
	}
	return int64(evs[0].EventNumber), nil
}

// tooLarge reports whether err is KurrentDB refusing an append over its
// maximum append size.
func tooLarge(err error) bool {
	st, ok := grpcStatus(err)
	return ok && st.Code() == codes.InvalidArgument && strings.Contains(st.Message(), "Maximum Append")
}

// invalidPosition reports whether err is KurrentDB refusing to read from a
// log position that is not the start of a record.
func invalidPosition(err error) bool {
	st, ok := grpcStatus(err)
	return ok && st.Code() == codes.InvalidArgument
}

// grpcStatus finds the gRPC status inside an error of the client.
func grpcStatus(err error) (*status.Status, bool) {
	var se interface{ GRPCStatus() *status.Status }
	if errors.As(err, &se) {
		return se.GRPCStatus(), true
	}
	return nil, false
}
