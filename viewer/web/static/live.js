// Keeps a server-rendered list (#live, from data-src) up to date: the
// broker's changes arrive as "changed" events on /events, and the list is
// fetched again. The HTML comes from our own templates, which escape
// every value.
const live = document.getElementById('live');
if (live) {
  let busy = false;
  let again = false;
  const refresh = async () => {
    if (busy) { again = true; return; }
    busy = true;
    try {
      do {
        again = false;
        const r = await fetch(live.dataset.src, { credentials: 'same-origin' });
        if (r.status === 401) { location.reload(); return; }
        if (r.ok) live.innerHTML = await r.text();
      } while (again);
    } catch (e) {
      // The next event tries again.
    } finally {
      busy = false;
    }
  };
  new EventSource('/events').addEventListener('changed', refresh);
}
