// Creating an incident: click the map, fill the small form, POST
// /api/v1/incidents; the answer's flags (repeat location, repeat caller,
// flagged locations) and ranked recommendations are shown, each with an Assign
// button (POST /api/v1/incidents/{id}/assign); a 409 offers "Force" (a
// recorded multiple deployment).
import { api } from './api.js';
import { toast, toastError } from './toast.js';

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v !== false && v != null) e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) if (c != null) e.append(c);
  return e;
}

export class CreateIncident {
  // onCreated(incident), onAssigned(incident, unitId), onClose()
  constructor({ onCreated, onAssigned, onClose }) {
    this.panel = document.getElementById('create-panel');
    this.onCreated = onCreated;
    this.onAssigned = onAssigned;
    this.onClose = onClose;
  }

  close() {
    this.panel.hidden = true;
    this.panel.replaceChildren();
    this.onClose();
  }

  open(lon, lat) {
    this.panel.hidden = false;
    const form = el('form', { id: 'create-form', class: 'create-form' },
      el('h2', {}, 'New incident'),
      el('div', { class: 'muted small' }, `${lat.toFixed(5)}, ${lon.toFixed(5)}`),
      el('label', {}, 'Grade ',
        el('select', { name: 'grade' },
          el('option', { value: '1' }, '1 immediate'),
          el('option', { value: '2', selected: true }, '2 urgent'),
          el('option', { value: '3' }, '3 scheduled'))),
      el('label', {}, 'Type ', el('input', { name: 'type', required: true, maxlength: '64', placeholder: 'assault', list: 'incident-types' })),
      el('datalist', { id: 'incident-types' },
        ...['assault', 'burglary', 'domestic', 'rtc', 'theft', 'concern_for_welfare', 'asb', 'missing_person']
          .map((t) => el('option', { value: t }))),
      el('label', {}, 'Address ', el('input', { name: 'address', maxlength: '256' })),
      el('label', {}, 'Caller ref ', el('input', { name: 'caller_ref', maxlength: '128' })),
      el('label', {}, 'Required skills ', el('input', { name: 'skills', placeholder: 'taser, first_aid' })),
      el('fieldset', { class: 'appointment', name: 'appointment-box', hidden: true },
        el('legend', {}, 'Appointment (grade 3)'),
        el('label', {}, 'From ', el('input', { type: 'datetime-local', name: 'appt_from' })),
        el('label', {}, 'To ', el('input', { type: 'datetime-local', name: 'appt_to' }))),
      el('div', { class: 'buttons' },
        el('button', { type: 'submit', class: 'primary' }, 'Create'),
        el('button', { type: 'button', onclick: () => this.close() }, 'Cancel')));
    const f = (n) => form.elements.namedItem(n);
    f('grade').addEventListener('change', () => {
      form.querySelector('.appointment').hidden = f('grade').value !== '3';
    });
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const body = {
        grade: Number(f('grade').value),
        type: f('type').value.trim(),
        lat, lon,
        required_skills: f('skills').value.split(/[,\s;]+/).map((s) => s.trim().toLowerCase()).filter(Boolean),
      };
      if (f('address').value.trim()) body.address = f('address').value.trim();
      if (f('caller_ref').value.trim()) body.caller_ref = f('caller_ref').value.trim();
      if (body.grade === 3 && f('appt_from').value && f('appt_to').value)
        body.appointment = { from: new Date(f('appt_from').value).toISOString(), to: new Date(f('appt_to').value).toISOString() };
      const submit = form.querySelector('button[type=submit]');
      submit.disabled = true;
      try {
        const inc = await api('/api/v1/incidents', { method: 'POST', body });
        this.onCreated(inc);
        this.showResult(inc);
      } catch (e) {
        submit.disabled = false;
        toastError(e, 'Create incident');
      }
    });
    this.panel.replaceChildren(form);
    f('type').focus();
  }

  showResult(inc) {
    this.panel.hidden = false;
    const box = el('div', { id: 'create-result', 'data-incident': inc.id },
      el('h2', {}, `Incident #${inc.id} created (grade ${inc.grade})`));
    box.append(flagsView(inc.flags));
    const recs = inc.recommendations || [];
    box.append(el('h3', {}, 'Recommended units'));
    if (!recs.length) box.append(el('p', { class: 'warn' }, 'No eligible unit (available, fresh fix, required skills).'));
    const table = el('table', { class: 'recs' },
      el('thead', {}, el('tr', {}, ...['Unit', 'km', 'ETA min', 'method', ''].map((h) => el('th', {}, h)))));
    const tbody = el('tbody');
    for (const r of recs) {
      const action = el('td');
      const row = el('tr', { 'data-unit': r.unit },
        el('td', { class: 'callsign' }, r.unit),
        el('td', {}, (r.distance_m / 1000).toFixed(1)),
        el('td', {}, (r.eta_s / 60).toFixed(1)),
        el('td', {}, r.method === 'road' ? 'road' : 'straight line'),
        action);
      const assign = el('button', { type: 'button', class: 'assign' }, 'Assign');
      assign.addEventListener('click', () => this.assign(inc.id, r.unit, false, action));
      action.append(assign);
      tbody.append(row);
    }
    table.append(tbody);
    if (recs.length) box.append(table);
    box.append(el('div', { class: 'buttons' }, el('button', { type: 'button', onclick: () => this.close() }, 'Done')));
    this.panel.replaceChildren(box);
  }

  async assign(incidentId, unit, force, cell) {
    cell.replaceChildren(el('span', { class: 'muted' }, '…'));
    try {
      const inc = await api(`/api/v1/incidents/${incidentId}/assign`, { method: 'POST', body: { unit, force } });
      cell.replaceChildren(el('span', { class: 'ok assigned' }, force ? 'assigned (forced)' : 'assigned'));
      this.onAssigned(inc, unit);
      toast(`${unit} assigned to #${incidentId}`, 'ok');
    } catch (e) {
      if (e.code === 'conflict' && !force) {
        const f = el('button', { type: 'button', class: 'force', title: e.message }, 'Force');
        f.addEventListener('click', () => this.assign(incidentId, unit, true, cell));
        cell.replaceChildren(el('span', { class: 'warn small' }, e.message + ' '), f);
      } else {
        const again = el('button', { type: 'button', class: 'assign' }, 'Assign');
        again.addEventListener('click', () => this.assign(incidentId, unit, false, cell));
        cell.replaceChildren(again);
        toastError(e, 'Assign');
      }
    }
  }
}

export function flagsView(flags) {
  const box = el('div', { class: 'flags' });
  if (!flags) return box;
  const items = [];
  const rl = flags.repeat_location;
  if (rl && rl.count) items.push(el('li', { class: 'flag repeat-location' }, `Repeat location: ${rl.count} earlier (#${rl.ids.join(', #')})`));
  const rc = flags.repeat_caller;
  if (rc && rc.count) items.push(el('li', { class: 'flag repeat-caller' }, `Repeat caller: ${rc.count} earlier (#${rc.ids.join(', #')})`));
  for (const l of flags.locations || [])
    items.push(el('li', { class: `flag location ${(l.flags || []).join(' ')}` }, `${(l.flags || []).join(', ').toUpperCase()}${l.note ? ': ' + l.note : ''}`));
  if (items.length) box.append(el('h3', {}, 'Flags'), el('ul', {}, ...items));
  else box.append(el('p', { class: 'muted small' }, 'No repeat or flagged-location matches.'));
  return box;
}
