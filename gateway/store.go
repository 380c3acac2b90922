package gateway

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Bucket names of the store file.
var (
	bucketCommands = []byte("commands")
	bucketBatches  = []byte("batches")
	bucketIdem     = []byte("idempotency")
	bucketArchive  = []byte("archive")
	bucketMeta     = []byte("meta")
)

var (
	keyArchive    = []byte("current")
	keyEventBlock = []byte("event_block")
)

// idemRecord is what an idempotency key maps to: the hash of the request body and the
// command or batch it created.
type idemRecord struct {
	Hash    string `json:"hash"`
	Command string `json:"command,omitempty"`
	Batch   string `json:"batch,omitempty"`
}

// Store is the durable store: one bbolt file with commands and their history, batches,
// idempotency keys and the archive. Its methods are safe for concurrent use; writes of
// concurrent callers are grouped into one transaction and one fsync (bbolt's Batch).
type Store struct {
	db *bolt.DB
}

// OpenStore opens or creates the store file at path. batchDelay bounds how long a write
// waits for others to join its transaction.
func OpenStore(path string, batchDelay time.Duration) (*Store, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if batchDelay > 0 {
		db.MaxBatchDelay = batchDelay
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketCommands, bucketBatches, bucketIdem, bucketArchive,
			bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("create buckets in %s: %w", path, err)
	}
	return &Store{db: db}, nil
}

// Close closes the file. Safe to call once, after every writer has returned.
func (s *Store) Close() error { return s.db.Close() }

func putJSON(b *bolt.Bucket, key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put([]byte(key), data)
}

// PutCommand writes one command, joining concurrent writers in one transaction.
func (s *Store) PutCommand(c *Command) error {
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return s.db.Batch(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCommands).Put([]byte(c.ID), data)
	})
}

// PutCommands writes several commands in one transaction.
func (s *Store) PutCommands(cmds []*Command) error {
	return s.CreateCommands(cmds, nil, "", nil)
}

// CreateCommands writes new commands, their batch (nil for a single command) and the
// idempotency key (empty for none) in one transaction. Small writes join concurrent
// writers; large ones (batches) run in their own transaction.
func (s *Store) CreateCommands(cmds []*Command, batch *Batch, key string, rec *idemRecord) error {
	encoded := make([][]byte, len(cmds))
	for i, c := range cmds {
		data, err := json.Marshal(c)
		if err != nil {
			return err
		}
		encoded[i] = data
	}
	write := func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketCommands)
		for i, c := range cmds {
			if err := b.Put([]byte(c.ID), encoded[i]); err != nil {
				return err
			}
		}
		if batch != nil {
			if err := putJSON(tx.Bucket(bucketBatches), batch.ID, batch); err != nil {
				return err
			}
		}
		if key != "" {
			return putJSON(tx.Bucket(bucketIdem), key, rec)
		}
		return nil
	}
	if len(cmds) > 64 {
		return s.db.Update(write)
	}
	return s.db.Batch(write)
}

// PutBatch writes a batch record.
func (s *Store) PutBatch(b *Batch) error {
	return s.db.Batch(func(tx *bolt.Tx) error {
		return putJSON(tx.Bucket(bucketBatches), b.ID, b)
	})
}

// Command reads one command; ErrNotFound when it does not exist.
func (s *Store) Command(id string) (*Command, error) {
	var c *Command
	err := s.db.View(func(tx *bolt.Tx) error {
		data := tx.Bucket(bucketCommands).Get([]byte(id))
		if data == nil {
			return ErrNotFound
		}
		c = new(Command)
		return json.Unmarshal(data, c)
	})
	return c, err
}

// ScanCommands calls fn for each command with an id after `after`, in id order, until fn
// returns false.
func (s *Store) ScanCommands(after string, fn func(*Command) bool) error {
	return s.db.View(func(tx *bolt.Tx) error {
		cur := tx.Bucket(bucketCommands).Cursor()
		var k, v []byte
		if after == "" {
			k, v = cur.First()
		} else {
			k, v = cur.Seek([]byte(after))
			if k != nil && bytes.Equal(k, []byte(after)) {
				k, v = cur.Next()
			}
		}
		for ; k != nil; k, v = cur.Next() {
			c := new(Command)
			if err := json.Unmarshal(v, c); err != nil {
				return fmt.Errorf("decode command %s: %w", k, err)
			}
			if !fn(c) {
				return nil
			}
		}
		return nil
	})
}

// Batches returns every stored batch record.
func (s *Store) Batches() ([]*Batch, error) {
	var out []*Batch
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketBatches).ForEach(func(k, v []byte) error {
			b := new(Batch)
			if err := json.Unmarshal(v, b); err != nil {
				return fmt.Errorf("decode batch %s: %w", k, err)
			}
			out = append(out, b)
			return nil
		})
	})
	return out, err
}

// IdempotencyKeys returns every stored idempotency key with its record.
func (s *Store) IdempotencyKeys() (map[string]idemRecord, error) {
	out := map[string]idemRecord{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketIdem).ForEach(func(k, v []byte) error {
			var r idemRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("decode idempotency key %q: %w", k, err)
			}
			out[string(k)] = r
			return nil
		})
	})
	return out, err
}

// DeleteCommands removes finished commands, the idempotency keys and the batches given.
func (s *Store) DeleteCommands(ids, keys, batches []string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		for _, id := range ids {
			if err := tx.Bucket(bucketCommands).Delete([]byte(id)); err != nil {
				return err
			}
		}
		for _, k := range keys {
			if err := tx.Bucket(bucketIdem).Delete([]byte(k)); err != nil {
				return err
			}
		}
		for _, b := range batches {
			if err := tx.Bucket(bucketBatches).Delete([]byte(b)); err != nil {
				return err
			}
		}
		return nil
	})
}

// PutArchive stores the archive document.
func (s *Store) PutArchive(data []byte) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketArchive).Put(keyArchive, data)
	})
}

// Archive returns the stored archive document, nil when none was imported.
func (s *Store) Archive() ([]byte, error) {
	var out []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketArchive).Get(keyArchive); v != nil {
			out = append([]byte(nil), v...)
		}
		return nil
	})
	return out, err
}

// ReserveEvents reserves a block of n event ids and returns the first one. Event ids stay
// increasing across restarts; ids reserved but unused before a restart are skipped.
func (s *Store) ReserveEvents(n uint64) (uint64, error) {
	var first uint64
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMeta)
		if v := b.Get(keyEventBlock); len(v) == 8 {
			first = binary.BigEndian.Uint64(v)
		}
		if first == 0 {
			first = 1
		}
		var next [8]byte
		binary.BigEndian.PutUint64(next[:], first+n)
		return b.Put(keyEventBlock, next[:])
	})
	return first, err
}
