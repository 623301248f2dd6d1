// Builds the `ctx` of ObjectStack 17.4 bodies around three host natives, which it then hides from the body.
(function () {
  "use strict";
  const host = globalThis.__objectos_host;
  const hostLog = globalThis.__objectos_log;
  const uuid = globalThis.__objectos_uuid;
  delete globalThis.__objectos_host;
  delete globalThis.__objectos_log;
  delete globalThis.__objectos_uuid;
  function call(op, object, a, b) {
    return JSON.parse(host(op, String(object), a === undefined ? "" : String(a), b === undefined ? "" : String(b)));
  }
  function repo(name) {
    return Object.freeze({
      find: async (query) => call("find", name, JSON.stringify(query || {})).records,
      findOne: async (query) => {
        const q = Object.assign({}, query || {}, { limit: 1 });
        const rows = call("find", name, JSON.stringify(q)).records;
        return rows.length ? rows[0] : null;
      },
      count: async (query) => {
        const q = Object.assign({}, query || {}, { limit: 10000 });
        return call("find", name, JSON.stringify(q)).records.length;
      },
      insert: async (values) => call("insert", name, JSON.stringify(values || {})),
      update: async (idOrRecord, patch) => {
        let id = idOrRecord;
        let changes = patch;
        if (idOrRecord !== null && typeof idOrRecord === "object") {
          changes = Object.assign({}, idOrRecord);
          id = changes.id;
          delete changes.id;
        }
        if (id === undefined || id === null) throw new Error("update needs the record's id");
        return call("update", name, String(id), JSON.stringify(changes || {}));
      },
      delete: async (idOrRecord) => {
        const id = idOrRecord !== null && typeof idOrRecord === "object" ? idOrRecord.id : idOrRecord;
        call("delete", name, String(id));
        return true;
      },
    });
  }
  const log = Object.freeze({
    debug: (...a) => hostLog("debug", a.map(String).join(" ")),
    info: (...a) => hostLog("info", a.map(String).join(" ")),
    warn: (...a) => hostLog("warn", a.map(String).join(" ")),
    error: (...a) => hostLog("error", a.map(String).join(" ")),
  });
  globalThis.__objectos_ctx = function (ctx) {
    ctx.api = Object.freeze({ object: repo });
    ctx.log = log;
    ctx.crypto = Object.freeze({ randomUUID: () => uuid() });
    return ctx;
  };
  globalThis.console = Object.freeze({ log: log.info, info: log.info, warn: log.warn, error: log.error, debug: log.debug });
})();
