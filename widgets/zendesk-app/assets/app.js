// Helpdesk Bridge sidebar: shows the ticket requester's orders, as the
// bridge renders them for this sidebar's layout.
//
// The token never reaches the browser: it is a secure setting, and the
// request goes through Zendesk's proxy (cors: false) with secure: true, so
// the proxy puts the token in place of its placeholder server-side, and
// only for the hosts in the manifest's domainWhitelist. Sources: Zendesk's
// "Making API requests from a Zendesk app" and its app scaffold README
// (secure settings, placeholders of the form setting.NAME in double
// braces, sent with secure: true). The placeholder appears once in this
// file, in the one request below; a test holds it there.
(function () {
  'use strict';

  /* messages:begin */
  const MESSAGES = {
    "en": {
      "loading": "Loading orders…",
      "no_email": "The requester of this ticket has no email address, so their orders cannot be looked up.",
      "not_configured": "The bridge URL is not set. Ask a Zendesk admin to set it in this app's settings.",
      "unauthorized": "The bridge refused this app's token. Ask a Zendesk admin to check the token in this app's settings.",
      "error": "Orders could not be loaded.",
      "retry": "Try again"
    },
    "fr": {
      "loading": "Chargement des commandes…",
      "no_email": "Le demandeur de ce ticket n'a pas d'adresse e-mail : ses commandes ne peuvent pas être recherchées.",
      "not_configured": "L'URL de la passerelle n'est pas renseignée. Demandez à un administrateur Zendesk de la saisir dans les paramètres de cette application.",
      "unauthorized": "La passerelle a refusé le jeton de cette application. Demandez à un administrateur Zendesk de vérifier le jeton dans les paramètres de cette application.",
      "error": "Les commandes n'ont pas pu être chargées.",
      "retry": "Réessayer"
    }
  };
  /* messages:end */

  // Longer than the bridge's own budget, so that its degraded answer
  // arrives before this gives up.
  const REQUEST_TIMEOUT_MS = 15000;
  const MIN_HEIGHT = 40;

  const container = document.getElementById('hb-content');
  let messages = MESSAGES.en;

  // message replaces the content with one sentence, and a retry button
  // for the failures that a retry may cure.
  function message(key, problem, retry) {
    const p = document.createElement('p');
    p.className = problem ? 'hb-message hb-problem' : 'hb-message';
    p.textContent = messages[key];
    if (retry) {
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = messages.retry;
      button.addEventListener('click', retry);
      p.appendChild(button);
    }
    container.textContent = '';
    container.appendChild(p);
  }

  // Without the SDK there is no client: say so rather than load forever.
  if (typeof ZAFClient === 'undefined') {
    message('error', true, null);
    return;
  }
  const client = ZAFClient.init();

  let lastHeight = 0;
  function resize() {
    const height = Math.max(MIN_HEIGHT, Math.ceil(document.body.getBoundingClientRect().height));
    if (height === lastHeight) {
      return;
    }
    lastHeight = height;
    client.invoke('resize', { width: '100%', height: height + 'px' });
  }
  // The sidebar's width changes with the agent's layout, and the content's
  // height with it.
  if (typeof ResizeObserver === 'function') {
    new ResizeObserver(resize).observe(document.body);
  }

  function withTimeout(promise, ms) {
    let timer;
    const timeout = new Promise(function (resolve, reject) {
      timer = setTimeout(function () { reject(new Error('timeout')); }, ms);
    });
    return Promise.race([promise, timeout]).then(
      function (value) { clearTimeout(timer); return value; },
      function (err) { clearTimeout(timer); throw err; }
    );
  }

  async function setLanguage() {
    try {
      const data = await client.get('currentUser.locale');
      const lang = String(data['currentUser.locale'] || '').slice(0, 2).toLowerCase();
      if (MESSAGES[lang]) {
        messages = MESSAGES[lang];
        document.documentElement.lang = lang;
      }
    } catch (err) {
      // English it is.
    }
  }

  // Each refresh has a number; an answer for an older one (the requester
  // changed meanwhile) is dropped.
  let current = 0;

  async function refresh() {
    const mine = ++current;
    message('loading', false, null);
    resize();
    try {
      const [data, meta] = await Promise.all([client.get('ticket.requester.email'), client.metadata()]);
      if (mine !== current) {
        return;
      }
      const email = String(data['ticket.requester.email'] || '').trim();
      const bridgeURL = String((meta.settings && meta.settings.bridge_url) || '').trim().replace(/\/+$/, '');
      if (!email) {
        message('no_email', false, null);
        return;
      }
      if (!bridgeURL) {
        message('not_configured', true, null);
        return;
      }
      let response = await withTimeout(client.request({
        url: bridgeURL + '/v1/widgets/zendesk?email=' + encodeURIComponent(email),
        type: 'GET',
        headers: { Authorization: 'Bearer {{setting.token}}' },
        secure: true,
        cors: false,
        dataType: 'json'
      }), REQUEST_TIMEOUT_MS);
      if (mine !== current) {
        return;
      }
      if (typeof response === 'string') {
        response = JSON.parse(response);
      }
      if (!response || typeof response.html !== 'string' || response.html === '') {
        throw new Error('no html in the answer');
      }
      // The bridge renders the fragment and escapes every value in it.
      container.innerHTML = response.html;
    } catch (err) {
      if (mine !== current) {
        return;
      }
      const status = err && err.status;
      if (status === 401 || status === 403) {
        message('unauthorized', true, schedule);
      } else {
        message('error', true, schedule);
      }
    } finally {
      if (mine === current) {
        resize();
      }
    }
  }

  // Several events can fire for one change of requester: refresh once.
  let pending = null;
  function schedule() {
    clearTimeout(pending);
    pending = setTimeout(refresh, 100);
  }

  // UNVERIFIED for v2 apps: the event names. ticket.requester.email.changed
  // is what public Zendesk apps listen to; ticket.requester.changed covers
  // a requester replaced by another. An event that never fires costs
  // nothing.
  client.on('ticket.requester.email.changed', schedule);
  client.on('ticket.requester.changed', schedule);

  setLanguage().then(refresh);
})();
