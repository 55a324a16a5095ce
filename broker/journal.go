package broker

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// JournalFile keeps the running sessions in the data directory, so that
// a broker that was killed can write their end in the audit log when it
// starts again.
const JournalFile = "sessions.journal"

// journalEntry is a running session as the journal keeps it.
type journalEntry struct {
	Session   string    `json:"session"`
	Code      string    `json:"code"`
	Viewer    string    `json:"viewer"`
	Agent     string    `json:"agent"`
	Supporter string    `json:"supporter,omitempty"`
	Start     time.Time `json:"start"`
}

// sessionJournal appends "+ {entry}" when a session starts and "- id"
// when it ends; a start without an end is a session the broker never saw
// end. The file is compacted to the running sessions when it grows.
type sessionJournal struct {
	path string

	mu    sync.Mutex
	f     *os.File
	open  map[string]journalEntry
	lines int
}

// openJournal reads what a previous run left and returns the sessions it
// never ended; the journal then starts empty.
func openJournal(dir string) (*sessionJournal, []journalEntry, error) {
	j := &sessionJournal{path: filepath.Join(dir, JournalFile), open: map[string]journalEntry{}}
	var left []journalEntry
	if f, err := os.Open(j.path); err == nil {
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 4096), 64<<10)
		running := map[string]journalEntry{}
		var order []string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "+ "):
				var e journalEntry
				if json.Unmarshal([]byte(line[2:]), &e) == nil && e.Session != "" {
					running[e.Session] = e
					order = append(order, e.Session)
				}
			case strings.HasPrefix(line, "- "):
				delete(running, line[2:])
			}
		}
		f.Close()
		for _, id := range order {
			if e, ok := running[id]; ok {
				left = append(left, e)
				delete(running, id)
			}
		}
	}
	f, err := os.OpenFile(j.path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, nil, err
	}
	j.f = f
	return j, left, nil
}

func (j *sessionJournal) start(e journalEntry) {
	b, _ := json.Marshal(e)
	j.mu.Lock()
	defer j.mu.Unlock()
	j.open[e.Session] = e
	j.appendLocked("+ " + string(b) + "\n")
}

func (j *sessionJournal) end(id string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, ok := j.open[id]; !ok {
		return
	}
	delete(j.open, id)
	j.appendLocked("- " + id + "\n")
}

// appendLocked writes a line, and compacts the file once it holds many
// more lines than running sessions. A write that fails (a full disk)
// loses only the crash report of that session.
func (j *sessionJournal) appendLocked(line string) {
	if j.f == nil {
		return
	}
	j.f.WriteString(line)
	j.lines++
	if j.lines < 4*len(j.open)+1024 {
		return
	}
	tmp := j.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return
	}
	for _, e := range j.open {
		b, _ := json.Marshal(e)
		f.WriteString("+ " + string(b) + "\n")
	}
	if f.Close() != nil || os.Rename(tmp, j.path) != nil {
		return
	}
	nf, err := os.OpenFile(j.path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return
	}
	j.f.Close()
	j.f, j.lines = nf, len(j.open)
}

// close ends the journal: the sessions still open end with the broker,
// which wrote their end lines.
func (j *sessionJournal) close() {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return
	}
	j.f.Close()
	j.f = nil
	os.Remove(j.path)
}
