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
rfb.addEventListener('clipboard', (e) => { $('clipboard').value = e.detail.text; });
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
  body.dataset.controlGranted = String(s.rights_known && s.control);
  if (!connected && !ended) {
    if (s.state === 'issued' || s.state === 'viewer-waiting') say('waiting');
    else if (s.state === 'asking' || s.state === 'paired') say('asking');
  }
};
new EventSource('/events').addEventListener('changed', refresh);
refresh();
