package postgres

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// connectListener opens a connection that LISTENs on the schema's channel.
func (s *Store) connectListener(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, s.roleConfig("listener"))
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, s.q.listen); err != nil {
		conn.Close(ctx)
		return nil, err
	}
	return conn, nil
}

// listen advances the signal on every notification of a commit, from this
// node or another, until ctx is done. Without notifications for
// PollInterval it reads the head anyway; after losing its connection it
// reconnects and wakes every subscription, since a notification may have
// been lost meanwhile.
func (s *Store) listen(ctx context.Context, conn *pgx.Conn) {
	defer func() {
		if conn != nil {
			conn.Close(ctx)
		}
	}()
	backoff := 50 * time.Millisecond
	for {
		if conn == nil {
			var err error
			conn, err = s.connectListener(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				s.logger.Warn("event log listener cannot reconnect", "schema", s.cfg.Schema, "err", err, "retry_in", backoff)
				select {
				case <-ctx.Done():
					return
				case <-time.After(backoff):
				}
				backoff = min(2*backoff, 5*time.Second)
				continue
			}
			backoff = 50 * time.Millisecond
			s.logger.Info("event log listener reconnected", "schema", s.cfg.Schema)
			if err := s.poll(ctx, conn, true); err != nil {
				s.listenerLost(ctx, &conn, err)
				continue
			}
		}
		wait, cancel := context.WithTimeout(ctx, s.cfg.PollInterval)
		n, err := conn.WaitForNotification(wait)
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case err == nil:
			head, perr := strconv.ParseUint(n.Payload, 10, 64)
			if perr != nil {
				head = 0 // still wakes every subscription, which then reads
			}
			s.signal.Advance(head)
		case errors.Is(err, context.DeadlineExceeded) && !conn.IsClosed():
			if err := s.poll(ctx, conn, false); err != nil {
				s.listenerLost(ctx, &conn, err)
			}
		default:
			s.listenerLost(ctx, &conn, err)
		}
	}
}

// poll reads the head of the log and advances the signal if it moved, or
// in any case when wake is set.
func (s *Store) poll(ctx context.Context, conn *pgx.Conn, wake bool) error {
	var head int64
	if err := conn.QueryRow(ctx, s.q.readHead).Scan(&head); err != nil {
		return err
	}
	if wake || uint64(head) > s.signal.Head() {
		s.signal.Advance(uint64(head))
	}
	return nil
}

func (s *Store) listenerLost(ctx context.Context, conn **pgx.Conn, err error) {
	if ctx.Err() == nil {
		s.logger.Warn("event log listener lost its connection; reconnecting", "schema", s.cfg.Schema, "err", err)
	}
	(*conn).Close(ctx)
	*conn = nil
}
