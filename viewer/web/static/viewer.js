// The browser viewer: noVNC's RFB object in our own page. The session
// code is the VNC password, exactly as on port 5511; the broker knows
// the supporter from the console session's cookie, which the browser
// sends with the WebSocket. The page never sets noVNC's viewOnly: the
// customer's agent enforces the rights the customer gave.
import RFB from '/novnc/core/rfb.js';

const body = document.body;
const code = body.dataset.code;
const $ = (id) => document.getElementById(id);
const status = $('status');
const say = (key, arg) => {
  let s = status.dataset[key] || key;
  if (arg !== undefined) s = s.replace('%s', arg);
  status.textContent = s;
  status.dataset.state = key;
};

let connected = false;
let ended = false;
const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/rfb';
const rfb = new RFB($('screen'), url, { credentials: { password: code } });
window.lifebuoyRFB = rfb; // for tests and the browser's console
rfb.scaleViewport = $('scale').checked;
rfb.qualityLevel = Number($('quality').value);
rfb.focusOnClick = true;

window.lifebuoyTimes = {};
rfb.addEventListener('connect', () => {
  window.lifebuoyTimes.connect = performance.now();
  connected = true;
  say('connected');
  const box = $('codebox');
  if (box) box.hidden = true;
  rfb.focus();
});
rfb.addEventListener('disconnect', () => {
  ended = true;
  if (status.dataset.state !== 'refused') say('ended');
});
rfb.addEventListener('securityfailure', (e) => say('refused', e.detail.reason || String(e.detail.status)));
rfb.addEventListener('credentialsrequired', () => rfb.sendCredentials({ password: code }));
rfb.addEventListener('clipboard', (e) => {
  // The customer's clipboard (they allowed files): shown, and put on the
  // supporter's clipboard where the browser lets the page.
  $('clipboard').value = e.detail.text;
  if (navigator.clipboard) navigator.clipboard.writeText(e.detail.text).catch(() => {});
});
rfb.addEventListener('desktopname', (e) => { if (!$('customer').textContent.trim() || $('customer').textContent === '—') $('customer').textContent = e.detail.name; });

$('scale').addEventListener('change', (e) => { rfb.scaleViewport = e.target.checked; });
$('quality').addEventListener('change', (e) => { rfb.qualityLevel = Number(e.target.value); });
$('cad').addEventListener('click', () => rfb.sendCtrlAltDel());
$('fullscreen').addEventListener('click', () => $('screen').requestFullscreen().catch(() => {}));
$('clip-send').addEventListener('click', () => rfb.clipboardPasteFrom($('clipboard').value));
$('request-control').addEventListener('click', async () => {
  const r = await fetch('/api/v1/sessions/' + code + '/request-control', { method: 'POST', credentials: 'same-origin' });
  if (r.ok) $('asked').hidden = false;
});
$('end-form').addEventListener('submit', () => { ended = true; });

// The session's facts as the broker knows them: who the customer is and
// what they allow, refreshed whenever the broker's sessions change.
const rights = $('rights');
const refresh = async () => {
  let r;
  try {
    r = await fetch('/api/v1/sessions/' + code, { credentials: 'same-origin' });
  } catch (e) {
    return;
  }
  if (r.status === 404) {
    if (connected || ended) say('ended');
    return;
  }
  if (!r.ok) return;
  const s = await r.json();
  $('customer').textContent = s.customer || '—';
  $('machine').textContent = s.customer_addr || '';
  if (s.rights_known) {
    let text = s.control ? rights.dataset.control : rights.dataset.viewOnly;
    if (s.files) text += ', ' + rights.dataset.files;
    rights.textContent = text;
  } else {
    rights.textContent = '—';
  }
  body.dataset.sessionState = s.state;
  if (s.rights_known && s.files !== filesAllowed) {
    filesAllowed = s.files;
    loadFiles();
  }
  body.dataset.controlGranted = String(s.rights_known && s.control);
  if (!connected && !ended) {
    if (s.state === 'issued' || s.state === 'viewer-waiting') say('waiting');
    else if (s.state === 'asking' || s.state === 'paired') say('asking');
  }
};

// Files: uploads from the file input or dropped anywhere on the page,
// one streamed PUT per file (the browser reads the file as it goes);
// offered files and the customer's home folder as download links, which
// the browser fetches itself. The customer's agent decides (F11).
const files = $('files');
const fmsg = (key, arg) => (files.dataset[key] || key).replace('%s', arg);
const apiFiles = '/api/v1/sessions/' + code + '/files';
const human = (n) => n >= 1e9 ? (n / 1e9).toFixed(1) + ' GB' : n >= 1e6 ? (n / 1e6).toFixed(1) + ' MB'
  : n >= 1e3 ? (n / 1e3).toFixed(1) + ' kB' : n + ' B';
let filesAllowed;
let browsePath = '';

const upload = (file) => new Promise((done) => {
  const li = document.createElement('li');
  li.textContent = fmsg('sending', file.name);
  $('transfers').append(li);
  const xhr = new XMLHttpRequest();
  xhr.open('PUT', apiFiles + '?name=' + encodeURIComponent(file.name));
  xhr.setRequestHeader('Content-Type', 'application/octet-stream');
  xhr.upload.onprogress = (e) => {
    if (e.lengthComputable) li.textContent = fmsg('sending', file.name) + ' ' + Math.floor(100 * e.loaded / e.total) + '%';
  };
  const fail = (why) => {
    li.className = 'failed';
    li.textContent = file.name + ': ' + fmsg('failed', why);
    done();
  };
  xhr.onerror = () => fail(xhr.statusText || 'network error');
  xhr.onload = () => {
    let j = {};
    try { j = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
    if (xhr.status !== 201) return fail(j.error || String(xhr.status));
    li.className = 'done';
    li.dataset.sha256 = j.sha256;
    li.textContent = file.name + ': ' + fmsg('sent', j.folder + '/' + j.name);
    done();
  };
  xhr.send(file);
});
const uploadAll = async (list) => {
  for (const f of list) await upload(f);
};
$('upload').addEventListener('change', (e) => { uploadAll([...e.target.files]); e.target.value = ''; });
const drop = $('drop');
document.addEventListener('dragover', (e) => {
  if (![...e.dataTransfer.types].includes('Files')) return;
  e.preventDefault();
  drop.classList.add('over');
});
document.addEventListener('dragleave', (e) => { if (!e.relatedTarget) drop.classList.remove('over'); });
document.addEventListener('drop', (e) => {
  if (!e.dataTransfer.files.length) return;
  e.preventDefault();
  drop.classList.remove('over');
  uploadAll([...e.dataTransfer.files]);
});

const fileLink = (query, name, size) => {
  const li = document.createElement('li');
  const a = document.createElement('a');
  a.href = apiFiles + '/get?' + query;
  a.download = name;
  a.textContent = name;
  const sz = document.createElement('span');
  sz.className = 'size';
  sz.textContent = human(size);
  li.append(a, sz);
  return li;
};
const getJSON = async (path) => {
  const r = await fetch(apiFiles + path, { credentials: 'same-origin' });
  const j = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(j.error || String(r.status));
  return j;
};
const loadFiles = async () => {
  const note = $('files-note');
  const offers = $('offers');
  const list = $('browse');
  if (filesAllowed === false) {
    note.textContent = fmsg('off');
    offers.replaceChildren();
    list.replaceChildren();
    $('browse-path').textContent = '';
    return;
  }
  try {
    const o = await getJSON('/offers');
    offers.replaceChildren(...o.offers.map((x) => fileLink('offer=' + encodeURIComponent(x.id), x.name, x.size)));
    if (!o.offers.length) offers.replaceChildren(Object.assign(document.createElement('li'), { textContent: fmsg('none') }));
    const l = await getJSON('/list?path=' + encodeURIComponent(browsePath));
    browsePath = l.path;
    $('browse-path').textContent = '~/' + l.path;
    const items = [];
    if (l.path) {
      const up = document.createElement('button');
      up.type = 'button';
      up.className = 'dir';
      up.textContent = '../ (' + fmsg('up') + ')';
      up.addEventListener('click', () => { browsePath = l.path.split('/').slice(0, -1).join('/'); loadFiles(); });
      const li = document.createElement('li');
      li.append(up);
      items.push(li);
    }
    for (const e of l.entries) {
      const p = (l.path ? l.path + '/' : '') + e.name;
      if (e.dir) {
        const b = document.createElement('button');
        b.type = 'button';
        b.className = 'dir';
        b.textContent = e.name + '/';
        b.addEventListener('click', () => { browsePath = p; loadFiles(); });
        const li = document.createElement('li');
        li.append(b);
        items.push(li);
      } else {
        items.push(fileLink('path=' + encodeURIComponent(p), e.name, e.size));
      }
    }
    list.replaceChildren(...items);
    note.textContent = '';
  } catch (err) {
    note.textContent = err.message;
  }
};
$('files-refresh').addEventListener('click', loadFiles);

new EventSource('/events').addEventListener('changed', refresh);
refresh();
