"use strict";
(() => {
  var __create = Object.create;
  var __defProp = Object.defineProperty;
  var __getOwnPropDesc = Object.getOwnPropertyDescriptor;
  var __getOwnPropNames = Object.getOwnPropertyNames;
  var __getProtoOf = Object.getPrototypeOf;
  var __hasOwnProp = Object.prototype.hasOwnProperty;
  var __commonJS = (cb, mod) => function __require() {
    try {
      return mod || (0, cb[__getOwnPropNames(cb)[0]])((mod = { exports: {} }).exports, mod), mod.exports;
    } catch (e) {
      throw mod = 0, e;
    }
  };
  var __copyProps = (to, from, except, desc) => {
    if (from && typeof from === "object" || typeof from === "function") {
      for (let key of __getOwnPropNames(from))
        if (!__hasOwnProp.call(to, key) && key !== except)
          __defProp(to, key, { get: () => from[key], enumerable: !(desc = __getOwnPropDesc(from, key)) || desc.enumerable });
    }
    return to;
  };
  var __toESM = (mod, isNodeMode, target) => (target = mod != null ? __create(__getProtoOf(mod)) : {}, __copyProps(
    // If the importer is in node compatibility mode or this is not an ESM
    // file that has been converted to a CommonJS file using a Babel-
    // compatible transform (i.e. "__esModule" has not been set), then set
    // "default" to the CommonJS "module.exports" for node compatibility.
    isNodeMode || !mod || !mod.__esModule ? __defProp(target, "default", { value: mod, enumerable: true }) : target,
    mod
  ));

  // (disabled):../../clients/typescript/node_modules/ws/browser.js
  var require_browser = __commonJS({
    "(disabled):../../clients/typescript/node_modules/ws/browser.js"() {
    }
  });

  // ../../clients/typescript/node_modules/openapi-fetch/dist/index.mjs
  var PATH_PARAM_RE = /\{[^{}]+\}/g;
  var supportsRequestInitExt = () => {
    return typeof process === "object" && Number.parseInt(process?.versions?.node?.substring(0, 2)) >= 18 && process.versions.undici;
  };
  function randomID() {
    return Math.random().toString(36).slice(2, 11);
  }
  function createClient(clientOptions) {
    let {
      baseUrl = "",
      Request: CustomRequest = globalThis.Request,
      fetch: baseFetch = globalThis.fetch,
      querySerializer: globalQuerySerializer,
      bodySerializer: globalBodySerializer,
      pathSerializer: globalPathSerializer,
      headers: baseHeaders,
      requestInitExt = void 0,
      ...baseOptions
    } = { ...clientOptions };
    requestInitExt = supportsRequestInitExt() ? requestInitExt : void 0;
    baseUrl = removeTrailingSlash(baseUrl);
    const globalMiddlewares = [];
    async function coreFetch(schemaPath, fetchOptions) {
      const {
        baseUrl: localBaseUrl,
        fetch: fetch2 = baseFetch,
        Request = CustomRequest,
        headers,
        params = {},
        parseAs = "json",
        querySerializer: requestQuerySerializer,
        bodySerializer = globalBodySerializer ?? defaultBodySerializer,
        pathSerializer: requestPathSerializer,
        body,
        middleware: requestMiddlewares = [],
        ...init
      } = fetchOptions || {};
      let finalBaseUrl = baseUrl;
      if (localBaseUrl) {
        finalBaseUrl = removeTrailingSlash(localBaseUrl) ?? baseUrl;
      }
      let querySerializer = typeof globalQuerySerializer === "function" ? globalQuerySerializer : createQuerySerializer(globalQuerySerializer);
      if (requestQuerySerializer) {
        querySerializer = typeof requestQuerySerializer === "function" ? requestQuerySerializer : createQuerySerializer({
          ...typeof globalQuerySerializer === "object" ? globalQuerySerializer : {},
          ...requestQuerySerializer
        });
      }
      const pathSerializer = requestPathSerializer || globalPathSerializer || defaultPathSerializer;
      const serializedBody = body === void 0 ? void 0 : bodySerializer(
        body,
        // Note: we declare mergeHeaders() both here and below because it’s a bit of a chicken-or-egg situation:
        // bodySerializer() needs all headers so we aren’t dropping ones set by the user, however,
        // the result of this ALSO sets the lowest-priority content-type header. So we re-merge below,
        // setting the content-type at the very beginning to be overwritten.
        // Lastly, based on the way headers work, it’s not a simple “present-or-not” check becauase null intentionally un-sets headers.
        mergeHeaders(baseHeaders, headers, params.header)
      );
      const finalHeaders = mergeHeaders(
        // with no body, we should not to set Content-Type
        serializedBody === void 0 || // if serialized body is FormData; browser will correctly set Content-Type & boundary expression
        serializedBody instanceof FormData ? {} : {
          "Content-Type": "application/json"
        },
        baseHeaders,
        headers,
        params.header
      );
      const finalMiddlewares = [...globalMiddlewares, ...requestMiddlewares];
      const requestInit = {
        redirect: "follow",
        ...baseOptions,
        ...init,
        body: serializedBody,
        headers: finalHeaders
      };
      let id;
      let options;
      let request = new Request(
        createFinalURL(schemaPath, { baseUrl: finalBaseUrl, params, querySerializer, pathSerializer }),
        requestInit
      );
      let response;
      for (const key in init) {
        if (!(key in request)) {
          request[key] = init[key];
        }
      }
      if (finalMiddlewares.length) {
        id = randomID();
        options = Object.freeze({
          baseUrl: finalBaseUrl,
          fetch: fetch2,
          parseAs,
          querySerializer,
          bodySerializer,
          pathSerializer
        });
        for (const m of finalMiddlewares) {
          if (m && typeof m === "object" && typeof m.onRequest === "function") {
            const result = await m.onRequest({
              request,
              schemaPath,
              params,
              options,
              id
            });
            if (result) {
              if (result instanceof Request) {
                request = result;
              } else if (result instanceof Response) {
                response = result;
                break;
              } else {
                throw new Error("onRequest: must return new Request() or Response() when modifying the request");
              }
            }
          }
        }
      }
      if (!response) {
        try {
          response = await fetch2(request, requestInitExt);
        } catch (error2) {
          let errorAfterMiddleware = error2;
          if (finalMiddlewares.length) {
            for (let i = finalMiddlewares.length - 1; i >= 0; i--) {
              const m = finalMiddlewares[i];
              if (m && typeof m === "object" && typeof m.onError === "function") {
                const result = await m.onError({
                  request,
                  error: errorAfterMiddleware,
                  schemaPath,
                  params,
                  options,
                  id
                });
                if (result) {
                  if (result instanceof Response) {
                    errorAfterMiddleware = void 0;
                    response = result;
                    break;
                  }
                  if (result instanceof Error) {
                    errorAfterMiddleware = result;
                    continue;
                  }
                  throw new Error("onError: must return new Response() or instance of Error");
                }
              }
            }
          }
          if (errorAfterMiddleware) {
            throw errorAfterMiddleware;
          }
        }
        if (finalMiddlewares.length) {
          for (let i = finalMiddlewares.length - 1; i >= 0; i--) {
            const m = finalMiddlewares[i];
            if (m && typeof m === "object" && typeof m.onResponse === "function") {
              const result = await m.onResponse({
                request,
                response,
                schemaPath,
                params,
                options,
                id
              });
              if (result) {
                if (!(result instanceof Response)) {
                  throw new Error("onResponse: must return new Response() when modifying the response");
                }
                response = result;
              }
            }
          }
        }
      }
      const contentLength = response.headers.get("Content-Length");
      if (response.status === 204 || request.method === "HEAD" || contentLength === "0" && !response.headers.get("Transfer-Encoding")?.includes("chunked")) {
        return response.ok ? { data: void 0, response } : { error: void 0, response };
      }
      if (response.ok) {
        const getResponseData = async () => {
          if (parseAs === "stream") {
            return response.body;
          }
          if (parseAs === "json" && !contentLength) {
            const raw = await response.text();
            return raw ? JSON.parse(raw) : void 0;
          }
          return await response[parseAs]();
        };
        return { data: await getResponseData(), response };
      }
      let error = await response.text();
      try {
        error = JSON.parse(error);
      } catch {
      }
      return { error, response };
    }
    return {
      request(method, url, init) {
        return coreFetch(url, { ...init, method: method.toUpperCase() });
      },
      /** Call a GET endpoint */
      GET(url, init) {
        return coreFetch(url, { ...init, method: "GET" });
      },
      /** Call a PUT endpoint */
      PUT(url, init) {
        return coreFetch(url, { ...init, method: "PUT" });
      },
      /** Call a POST endpoint */
      POST(url, init) {
        return coreFetch(url, { ...init, method: "POST" });
      },
      /** Call a DELETE endpoint */
      DELETE(url, init) {
        return coreFetch(url, { ...init, method: "DELETE" });
      },
      /** Call a OPTIONS endpoint */
      OPTIONS(url, init) {
        return coreFetch(url, { ...init, method: "OPTIONS" });
      },
      /** Call a HEAD endpoint */
      HEAD(url, init) {
        return coreFetch(url, { ...init, method: "HEAD" });
      },
      /** Call a PATCH endpoint */
      PATCH(url, init) {
        return coreFetch(url, { ...init, method: "PATCH" });
      },
      /** Call a TRACE endpoint */
      TRACE(url, init) {
        return coreFetch(url, { ...init, method: "TRACE" });
      },
      /** Register middleware */
      use(...middleware) {
        for (const m of middleware) {
          if (!m) {
            continue;
          }
          if (typeof m !== "object" || !("onRequest" in m || "onResponse" in m || "onError" in m)) {
            throw new Error("Middleware must be an object with one of `onRequest()`, `onResponse() or `onError()`");
          }
          globalMiddlewares.push(m);
        }
      },
      /** Unregister middleware */
      eject(...middleware) {
        for (const m of middleware) {
          const i = globalMiddlewares.indexOf(m);
          if (i !== -1) {
            globalMiddlewares.splice(i, 1);
          }
        }
      }
    };
  }
  function serializePrimitiveParam(name, value, options) {
    if (value === void 0 || value === null) {
      return "";
    }
    if (typeof value === "object") {
      throw new Error(
        "Deeply-nested arrays/objects aren’t supported. Provide your own `querySerializer()` to handle these."
      );
    }
    return `${name}=${options?.allowReserved === true ? value : encodeURIComponent(value)}`;
  }
  function serializeObjectParam(name, value, options) {
    if (!value || typeof value !== "object") {
      return "";
    }
    const values = [];
    const joiner = {
      simple: ",",
      label: ".",
      matrix: ";"
    }[options.style] || "&";
    if (options.style !== "deepObject" && options.explode === false) {
      for (const k in value) {
        values.push(k, options.allowReserved === true ? value[k] : encodeURIComponent(value[k]));
      }
      const final2 = values.join(",");
      switch (options.style) {
        case "form": {
          return `${name}=${final2}`;
        }
        case "label": {
          return `.${final2}`;
        }
        case "matrix": {
          return `;${name}=${final2}`;
        }
        default: {
          return final2;
        }
      }
    }
    for (const k in value) {
      const finalName = options.style === "deepObject" ? `${name}[${k}]` : k;
      values.push(serializePrimitiveParam(finalName, value[k], options));
    }
    const final = values.join(joiner);
    return options.style === "label" || options.style === "matrix" ? `${joiner}${final}` : final;
  }
  function serializeArrayParam(name, value, options) {
    if (!Array.isArray(value)) {
      return "";
    }
    if (options.explode === false) {
      const joiner2 = { form: ",", spaceDelimited: "%20", pipeDelimited: "|" }[options.style] || ",";
      const final = (options.allowReserved === true ? value : value.map((v) => encodeURIComponent(v))).join(joiner2);
      switch (options.style) {
        case "simple": {
          return final;
        }
        case "label": {
          return `.${final}`;
        }
        case "matrix": {
          return `;${name}=${final}`;
        }
        // case "spaceDelimited":
        // case "pipeDelimited":
        default: {
          return `${name}=${final}`;
        }
      }
    }
    const joiner = { simple: ",", label: ".", matrix: ";" }[options.style] || "&";
    const values = [];
    for (const v of value) {
      if (options.style === "simple" || options.style === "label") {
        values.push(options.allowReserved === true ? v : encodeURIComponent(v));
      } else {
        values.push(serializePrimitiveParam(name, v, options));
      }
    }
    return options.style === "label" || options.style === "matrix" ? `${joiner}${values.join(joiner)}` : values.join(joiner);
  }
  function createQuerySerializer(options) {
    return function querySerializer(queryParams) {
      const search = [];
      if (queryParams && typeof queryParams === "object") {
        for (const name in queryParams) {
          const value = queryParams[name];
          if (value === void 0 || value === null) {
            continue;
          }
          if (Array.isArray(value)) {
            if (value.length === 0) {
              continue;
            }
            search.push(
              serializeArrayParam(name, value, {
                style: "form",
                explode: true,
                ...options?.array,
                allowReserved: options?.allowReserved || false
              })
            );
            continue;
          }
          if (typeof value === "object") {
            search.push(
              serializeObjectParam(name, value, {
                style: "deepObject",
                explode: true,
                ...options?.object,
                allowReserved: options?.allowReserved || false
              })
            );
            continue;
          }
          search.push(serializePrimitiveParam(name, value, options));
        }
      }
      return search.join("&");
    };
  }
  function defaultPathSerializer(pathname, pathParams) {
    let nextURL = pathname;
    for (const match of pathname.match(PATH_PARAM_RE) ?? []) {
      let name = match.substring(1, match.length - 1);
      let explode = false;
      let style = "simple";
      if (name.endsWith("*")) {
        explode = true;
        name = name.substring(0, name.length - 1);
      }
      if (name.startsWith(".")) {
        style = "label";
        name = name.substring(1);
      } else if (name.startsWith(";")) {
        style = "matrix";
        name = name.substring(1);
      }
      if (!pathParams || pathParams[name] === void 0 || pathParams[name] === null) {
        continue;
      }
      const value = pathParams[name];
      if (Array.isArray(value)) {
        nextURL = nextURL.replace(match, serializeArrayParam(name, value, { style, explode }));
        continue;
      }
      if (typeof value === "object") {
        nextURL = nextURL.replace(match, serializeObjectParam(name, value, { style, explode }));
        continue;
      }
      if (style === "matrix") {
        nextURL = nextURL.replace(match, `;${serializePrimitiveParam(name, value)}`);
        continue;
      }
      nextURL = nextURL.replace(match, style === "label" ? `.${encodeURIComponent(value)}` : encodeURIComponent(value));
    }
    return nextURL;
  }
  function defaultBodySerializer(body, headers) {
    if (body instanceof FormData) {
      return body;
    }
    if (headers) {
      const contentType = headers.get instanceof Function ? headers.get("Content-Type") ?? headers.get("content-type") : headers["Content-Type"] ?? headers["content-type"];
      if (contentType === "application/x-www-form-urlencoded") {
        return new URLSearchParams(body).toString();
      }
    }
    return JSON.stringify(body);
  }
  function createFinalURL(pathname, options) {
    let finalURL = `${options.baseUrl}${pathname}`;
    if (options.params?.path) {
      finalURL = options.pathSerializer(finalURL, options.params.path);
    }
    let search = options.querySerializer(options.params.query ?? {});
    if (search.startsWith("?")) {
      search = search.substring(1);
    }
    if (search) {
      finalURL += `?${search}`;
    }
    return finalURL;
  }
  function mergeHeaders(...allHeaders) {
    const finalHeaders = new Headers();
    for (const h of allHeaders) {
      if (!h || typeof h !== "object") {
        continue;
      }
      const iterator = h instanceof Headers ? h.entries() : Object.entries(h);
      for (const [k, v] of iterator) {
        if (v === null) {
          finalHeaders.delete(k);
        } else if (Array.isArray(v)) {
          for (const v2 of v) {
            finalHeaders.append(k, v2);
          }
        } else if (v !== void 0) {
          finalHeaders.set(k, v);
        }
      }
    }
    return finalHeaders;
  }
  function removeTrailingSlash(url) {
    if (url.endsWith("/")) {
      return url.substring(0, url.length - 1);
    }
    return url;
  }

  // ../../clients/typescript/node_modules/graphql-ws/dist/common-CGW11Fyb.js
  function extendedTypeof(val) {
    if (val === null) {
      return "null";
    }
    if (Array.isArray(val)) {
      return "array";
    }
    return typeof val;
  }
  function isObject(val) {
    return extendedTypeof(val) === "object";
  }
  function areGraphQLFormattedErrors(obj) {
    return Array.isArray(obj) && // must be at least one error
    obj.length > 0 && // error has at least a message
    obj.every((ob) => "message" in ob);
  }
  function limitCloseReason(reason, whenTooLong) {
    return reason.length < 124 ? reason : whenTooLong;
  }
  var GRAPHQL_TRANSPORT_WS_PROTOCOL = "graphql-transport-ws";
  var CloseCode = /* @__PURE__ */ ((CloseCode2) => {
    CloseCode2[CloseCode2["InternalServerError"] = 4500] = "InternalServerError";
    CloseCode2[CloseCode2["InternalClientError"] = 4005] = "InternalClientError";
    CloseCode2[CloseCode2["BadRequest"] = 4400] = "BadRequest";
    CloseCode2[CloseCode2["BadResponse"] = 4004] = "BadResponse";
    CloseCode2[CloseCode2["Unauthorized"] = 4401] = "Unauthorized";
    CloseCode2[CloseCode2["Forbidden"] = 4403] = "Forbidden";
    CloseCode2[CloseCode2["SubprotocolNotAcceptable"] = 4406] = "SubprotocolNotAcceptable";
    CloseCode2[CloseCode2["ConnectionInitialisationTimeout"] = 4408] = "ConnectionInitialisationTimeout";
    CloseCode2[CloseCode2["ConnectionAcknowledgementTimeout"] = 4504] = "ConnectionAcknowledgementTimeout";
    CloseCode2[CloseCode2["SubscriberAlreadyExists"] = 4409] = "SubscriberAlreadyExists";
    CloseCode2[CloseCode2["TooManyInitialisationRequests"] = 4429] = "TooManyInitialisationRequests";
    return CloseCode2;
  })(CloseCode || {});
  var MessageType = /* @__PURE__ */ ((MessageType2) => {
    MessageType2["ConnectionInit"] = "connection_init";
    MessageType2["ConnectionAck"] = "connection_ack";
    MessageType2["Ping"] = "ping";
    MessageType2["Pong"] = "pong";
    MessageType2["Subscribe"] = "subscribe";
    MessageType2["Next"] = "next";
    MessageType2["Error"] = "error";
    MessageType2["Complete"] = "complete";
    return MessageType2;
  })(MessageType || {});
  function validateMessage(val) {
    if (!isObject(val)) {
      throw new Error(
        `Message is expected to be an object, but got ${extendedTypeof(val)}`
      );
    }
    if (!val.type) {
      throw new Error(`Message is missing the 'type' property`);
    }
    if (typeof val.type !== "string") {
      throw new Error(
        `Message is expects the 'type' property to be a string, but got ${extendedTypeof(
          val.type
        )}`
      );
    }
    switch (val.type) {
      case "connection_init":
      case "connection_ack":
      case "ping":
      case "pong": {
        if (val.payload != null && !isObject(val.payload)) {
          throw new Error(
            `"${val.type}" message expects the 'payload' property to be an object or nullish or missing, but got "${val.payload}"`
          );
        }
        break;
      }
      case "subscribe": {
        if (typeof val.id !== "string") {
          throw new Error(
            `"${val.type}" message expects the 'id' property to be a string, but got ${extendedTypeof(
              val.id
            )}`
          );
        }
        if (!val.id) {
          throw new Error(
            `"${val.type}" message requires a non-empty 'id' property`
          );
        }
        if (!isObject(val.payload)) {
          throw new Error(
            `"${val.type}" message expects the 'payload' property to be an object, but got ${extendedTypeof(
              val.payload
            )}`
          );
        }
        if (typeof val.payload.query !== "string") {
          throw new Error(
            `"${val.type}" message payload expects the 'query' property to be a string, but got ${extendedTypeof(
              val.payload.query
            )}`
          );
        }
        if (val.payload.variables != null && !isObject(val.payload.variables)) {
          throw new Error(
            `"${val.type}" message payload expects the 'variables' property to be a an object or nullish or missing, but got ${extendedTypeof(
              val.payload.variables
            )}`
          );
        }
        if (val.payload.operationName != null && extendedTypeof(val.payload.operationName) !== "string") {
          throw new Error(
            `"${val.type}" message payload expects the 'operationName' property to be a string or nullish or missing, but got ${extendedTypeof(
              val.payload.operationName
            )}`
          );
        }
        if (val.payload.extensions != null && !isObject(val.payload.extensions)) {
          throw new Error(
            `"${val.type}" message payload expects the 'extensions' property to be a an object or nullish or missing, but got ${extendedTypeof(
              val.payload.extensions
            )}`
          );
        }
        break;
      }
      case "next": {
        if (typeof val.id !== "string") {
          throw new Error(
            `"${val.type}" message expects the 'id' property to be a string, but got ${extendedTypeof(
              val.id
            )}`
          );
        }
        if (!val.id) {
          throw new Error(
            `"${val.type}" message requires a non-empty 'id' property`
          );
        }
        if (!isObject(val.payload)) {
          throw new Error(
            `"${val.type}" message expects the 'payload' property to be an object, but got ${extendedTypeof(
              val.payload
            )}`
          );
        }
        break;
      }
      case "error": {
        if (typeof val.id !== "string") {
          throw new Error(
            `"${val.type}" message expects the 'id' property to be a string, but got ${extendedTypeof(
              val.id
            )}`
          );
        }
        if (!val.id) {
          throw new Error(
            `"${val.type}" message requires a non-empty 'id' property`
          );
        }
        if (!areGraphQLFormattedErrors(val.payload)) {
          throw new Error(
            `"${val.type}" message expects the 'payload' property to be an array of GraphQL errors, but got ${JSON.stringify(
              val.payload
            )}`
          );
        }
        break;
      }
      case "complete": {
        if (typeof val.id !== "string") {
          throw new Error(
            `"${val.type}" message expects the 'id' property to be a string, but got ${extendedTypeof(
              val.id
            )}`
          );
        }
        if (!val.id) {
          throw new Error(
            `"${val.type}" message requires a non-empty 'id' property`
          );
        }
        break;
      }
      default:
        throw new Error(`Invalid message 'type' property "${val.type}"`);
    }
    return val;
  }
  function parseMessage(data, reviver) {
    return validateMessage(
      typeof data === "string" ? JSON.parse(data, reviver) : data
    );
  }
  function stringifyMessage(msg, replacer) {
    validateMessage(msg);
    return JSON.stringify(msg, replacer);
  }

  // ../../clients/typescript/node_modules/graphql-ws/dist/client.js
  function createClient2(options) {
    const {
      url,
      connectionParams,
      lazy = true,
      onNonLazyError = console.error,
      lazyCloseTimeout: lazyCloseTimeoutMs = 0,
      keepAlive = 0,
      disablePong,
      connectionAckWaitTimeout = 0,
      retryAttempts = 5,
      retryWait = async function randomisedExponentialBackoff(retries2) {
        const retryDelaySeconds = Math.pow(2, retries2);
        await new Promise(
          (resolve) => setTimeout(
            resolve,
            retryDelaySeconds * 1e3 + // add random timeout from 300ms to 3s
            Math.floor(Math.random() * (3e3 - 300) + 300)
          )
        );
      },
      shouldRetry = isLikeCloseEvent,
      on,
      webSocketImpl,
      /**
       * Generates a v4 UUID to be used as the ID using `Math`
       * as the random number generator. Supply your own generator
       * in case you need more uniqueness.
       *
       * Reference: https://gist.github.com/jed/982883
       */
      generateID = function generateUUID() {
        return "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".replace(/[xy]/g, (c) => {
          const r = Math.random() * 16 | 0, v = c == "x" ? r : r & 3 | 8;
          return v.toString(16);
        });
      },
      jsonMessageReplacer: replacer,
      jsonMessageReviver: reviver
    } = options;
    let ws;
    if (webSocketImpl) {
      if (!isWebSocket(webSocketImpl)) {
        throw new Error("Invalid WebSocket implementation provided");
      }
      ws = webSocketImpl;
    } else if (typeof WebSocket !== "undefined") {
      ws = WebSocket;
    } else if (typeof global !== "undefined") {
      ws = global.WebSocket || // @ts-expect-error: Support more browsers
      global.MozWebSocket;
    } else if (typeof window !== "undefined") {
      ws = window.WebSocket || // @ts-expect-error: Support more browsers
      window.MozWebSocket;
    }
    if (!ws)
      throw new Error(
        "WebSocket implementation missing; on Node you can `import WebSocket from 'ws';` and pass `webSocketImpl: WebSocket` to `createClient`"
      );
    const WebSocketImpl = ws;
    const emitter = (() => {
      const message = /* @__PURE__ */ (() => {
        const listeners2 = {};
        return {
          on(id, listener) {
            listeners2[id] = listener;
            return () => {
              delete listeners2[id];
            };
          },
          emit(message2) {
            if ("id" in message2) listeners2[message2.id]?.(message2);
          }
        };
      })();
      const listeners = {
        connecting: on?.connecting ? [on.connecting] : [],
        opened: on?.opened ? [on.opened] : [],
        connected: on?.connected ? [on.connected] : [],
        ping: on?.ping ? [on.ping] : [],
        pong: on?.pong ? [on.pong] : [],
        message: on?.message ? [message.emit, on.message] : [message.emit],
        closed: on?.closed ? [on.closed] : [],
        error: on?.error ? [on.error] : []
      };
      return {
        onMessage: message.on,
        on(event, listener) {
          const l = listeners[event];
          l.push(listener);
          return () => {
            const i = l.indexOf(listener);
            if (i > -1) {
              l.splice(i, 1);
            }
          };
        },
        emit(event, ...args) {
          for (const listener of [...listeners[event]]) {
            listener(...args);
          }
        }
      };
    })();
    function errorOrClosed(cb) {
      const listening = [
        // errors are fatal and more critical than close events, throw them first
        emitter.on("error", (err) => {
          listening.forEach((unlisten) => unlisten());
          cb(err);
        }),
        // closes can be graceful and not fatal, throw them second (if error didnt throw)
        emitter.on("closed", (event) => {
          listening.forEach((unlisten) => unlisten());
          cb(event);
        })
      ];
      return () => listening.forEach((unlisten) => unlisten());
    }
    let connecting, locks = 0, lazyCloseTimeout, retrying = false, retries = 0, disposed = false;
    async function connect() {
      clearTimeout(lazyCloseTimeout);
      const [socket, throwOnClose] = await (connecting ?? (connecting = new Promise(
        (connected, denied) => (async () => {
          if (retrying) {
            await retryWait(retries);
            if (!locks) {
              connecting = void 0;
              return denied({ code: 1e3, reason: "All Subscriptions Gone" });
            }
            retries++;
          }
          emitter.emit("connecting", retrying);
          const socket2 = new WebSocketImpl(
            typeof url === "function" ? await url() : url,
            GRAPHQL_TRANSPORT_WS_PROTOCOL
          );
          let connectionAckTimeout, queuedPing;
          function enqueuePing() {
            if (isFinite(keepAlive) && keepAlive > 0) {
              clearTimeout(queuedPing);
              queuedPing = setTimeout(() => {
                if (socket2.readyState === WebSocketImpl.OPEN) {
                  socket2.send(stringifyMessage({ type: MessageType.Ping }));
                  emitter.emit("ping", false, void 0);
                }
              }, keepAlive);
            }
          }
          errorOrClosed((errOrEvent) => {
            connecting = void 0;
            clearTimeout(connectionAckTimeout);
            clearTimeout(queuedPing);
            denied(errOrEvent);
            if (errOrEvent instanceof TerminatedCloseEvent) {
              socket2.close(4499, "Terminated");
              socket2.onerror = null;
              socket2.onclose = null;
            }
          });
          socket2.onerror = (err) => emitter.emit("error", err);
          socket2.onclose = (event) => emitter.emit("closed", event);
          socket2.onopen = async () => {
            try {
              emitter.emit("opened", socket2);
              const payload = typeof connectionParams === "function" ? await connectionParams() : connectionParams;
              if (socket2.readyState !== WebSocketImpl.OPEN) return;
              socket2.send(
                stringifyMessage(
                  payload ? {
                    type: MessageType.ConnectionInit,
                    payload
                  } : {
                    type: MessageType.ConnectionInit
                    // payload is completely absent if not provided
                  },
                  replacer
                )
              );
              if (isFinite(connectionAckWaitTimeout) && connectionAckWaitTimeout > 0) {
                connectionAckTimeout = setTimeout(() => {
                  socket2.close(
                    CloseCode.ConnectionAcknowledgementTimeout,
                    "Connection acknowledgement timeout"
                  );
                }, connectionAckWaitTimeout);
              }
              enqueuePing();
            } catch (err) {
              emitter.emit("error", err);
              socket2.close(
                CloseCode.InternalClientError,
                limitCloseReason(
                  err instanceof Error ? err.message : String(err),
                  "Internal client error"
                )
              );
            }
          };
          let acknowledged = false;
          socket2.onmessage = ({ data }) => {
            try {
              const message = parseMessage(data, reviver);
              emitter.emit("message", message);
              if (message.type === "ping" || message.type === "pong") {
                emitter.emit(message.type, true, message.payload);
                if (message.type === "pong") {
                  enqueuePing();
                } else if (!disablePong) {
                  socket2.send(
                    stringifyMessage(
                      message.payload ? {
                        type: MessageType.Pong,
                        payload: message.payload
                      } : {
                        type: MessageType.Pong
                        // payload is completely absent if not provided
                      },
                      replacer
                    )
                  );
                  emitter.emit("pong", false, message.payload);
                }
                return;
              }
              if (acknowledged) return;
              if (message.type !== MessageType.ConnectionAck)
                throw new Error(
                  `First message cannot be of type ${message.type}`
                );
              clearTimeout(connectionAckTimeout);
              acknowledged = true;
              emitter.emit("connected", socket2, message.payload, retrying);
              retrying = false;
              retries = 0;
              const throwOnClose2 = new Promise(
                (_, reject) => errorOrClosed(reject)
              );
              throwOnClose2.catch(() => {
              });
              connected([socket2, throwOnClose2]);
            } catch (err) {
              socket2.onmessage = null;
              emitter.emit("error", err);
              socket2.close(
                CloseCode.BadResponse,
                limitCloseReason(
                  err instanceof Error ? err.message : String(err),
                  "Bad response"
                )
              );
            }
          };
        })()
      )));
      if (socket.readyState === WebSocketImpl.CLOSING) await throwOnClose;
      let release = () => {
      };
      const released = new Promise((resolve) => release = resolve);
      return [
        socket,
        release,
        // resolves on release or rejects on error/close, whichever comes first.
        // not racing with throwOnClose on purpose, it lives as long as the socket
        // and every race would leak memory per operation
        new Promise((resolve, reject) => {
          const unlisten = errorOrClosed(reject);
          if (socket.readyState !== WebSocketImpl.OPEN)
            throwOnClose.catch(reject);
          released.then(() => {
            unlisten();
            if (!locks) {
              const complete = () => socket.close(1e3, "Normal Closure");
              if (isFinite(lazyCloseTimeoutMs) && lazyCloseTimeoutMs > 0) {
                clearTimeout(lazyCloseTimeout);
                lazyCloseTimeout = setTimeout(() => {
                  if (!locks && socket.readyState === WebSocketImpl.OPEN)
                    complete();
                }, lazyCloseTimeoutMs);
              } else {
                complete();
              }
            }
            resolve();
          });
        })
      ];
    }
    function shouldRetryConnectOrThrow(errOrCloseEvent) {
      if (isLikeCloseEvent(errOrCloseEvent) && (isFatalInternalCloseCode(errOrCloseEvent.code) || [
        CloseCode.InternalServerError,
        CloseCode.InternalClientError,
        CloseCode.BadRequest,
        CloseCode.BadResponse,
        CloseCode.Unauthorized,
        // CloseCode.Forbidden, might grant access out after retry
        CloseCode.SubprotocolNotAcceptable,
        // CloseCode.ConnectionInitialisationTimeout, might not time out after retry
        // CloseCode.ConnectionAcknowledgementTimeout, might not time out after retry
        CloseCode.SubscriberAlreadyExists,
        CloseCode.TooManyInitialisationRequests
        // 4499, // Terminated, probably because the socket froze, we want to retry
      ].includes(errOrCloseEvent.code)))
        throw errOrCloseEvent;
      if (disposed) return false;
      if (isLikeCloseEvent(errOrCloseEvent) && errOrCloseEvent.code === 1e3)
        return locks > 0;
      if (!retryAttempts || retries >= retryAttempts) throw errOrCloseEvent;
      if (!shouldRetry(errOrCloseEvent)) throw errOrCloseEvent;
      return retrying = true;
    }
    if (!lazy) {
      (async () => {
        locks++;
        for (; ; ) {
          try {
            const [, , throwOnClose] = await connect();
            await throwOnClose;
          } catch (errOrCloseEvent) {
            try {
              if (!shouldRetryConnectOrThrow(errOrCloseEvent)) return;
            } catch (errOrCloseEvent2) {
              return onNonLazyError?.(errOrCloseEvent2);
            }
          }
        }
      })();
    }
    function subscribe2(payload, sink) {
      const id = generateID(payload);
      let done = false, errored = false, releaser = () => {
        locks--;
        done = true;
      };
      (async () => {
        locks++;
        for (; ; ) {
          try {
            const [socket, release, waitForReleaseOrThrowOnClose] = await connect();
            if (done) {
              waitForReleaseOrThrowOnClose.catch(() => {
              });
              return release();
            }
            const unlisten = emitter.onMessage(id, (message) => {
              switch (message.type) {
                case MessageType.Next: {
                  sink.next(message.payload);
                  return;
                }
                case MessageType.Error: {
                  errored = true, done = true;
                  sink.error(message.payload);
                  releaser();
                  return;
                }
                case MessageType.Complete: {
                  done = true;
                  releaser();
                  return;
                }
              }
            });
            socket.send(
              stringifyMessage(
                {
                  id,
                  type: MessageType.Subscribe,
                  payload
                },
                replacer
              )
            );
            releaser = () => {
              if (!done && socket.readyState === WebSocketImpl.OPEN)
                socket.send(
                  stringifyMessage(
                    {
                      id,
                      type: MessageType.Complete
                    },
                    replacer
                  )
                );
              locks--;
              done = true;
              release();
            };
            await waitForReleaseOrThrowOnClose.finally(unlisten);
            return;
          } catch (errOrCloseEvent) {
            if (!shouldRetryConnectOrThrow(errOrCloseEvent)) return;
          }
        }
      })().then(() => {
        if (!errored) sink.complete();
      }).catch((err) => {
        sink.error(err);
      });
      return () => {
        if (!done) releaser();
      };
    }
    return {
      on: emitter.on,
      subscribe: subscribe2,
      iterate(request) {
        const pending = [];
        const deferred = {
          done: false,
          error: null,
          resolve: () => {
          }
        };
        const dispose = subscribe2(request, {
          next(val) {
            pending.push(val);
            deferred.resolve();
          },
          error(err) {
            deferred.done = true;
            deferred.error = err;
            deferred.resolve();
          },
          complete() {
            deferred.done = true;
            deferred.resolve();
          }
        });
        const iterator = (async function* iterator2() {
          for (; ; ) {
            if (!pending.length) {
              await new Promise((resolve) => deferred.resolve = resolve);
            }
            while (pending.length) {
              yield pending.shift();
            }
            if (deferred.error) {
              throw deferred.error;
            }
            if (deferred.done) {
              return;
            }
          }
        })();
        iterator.throw = async (err) => {
          if (!deferred.done) {
            deferred.done = true;
            deferred.error = err;
            deferred.resolve();
          }
          return { done: true, value: void 0 };
        };
        iterator.return = async () => {
          dispose();
          return { done: true, value: void 0 };
        };
        return iterator;
      },
      async dispose() {
        disposed = true;
        if (connecting) {
          const [socket] = await connecting;
          socket.close(1e3, "Normal Closure");
        }
      },
      terminate() {
        if (connecting) {
          emitter.emit("closed", new TerminatedCloseEvent());
        }
      }
    };
  }
  var TerminatedCloseEvent = class extends Error {
    name = "TerminatedCloseEvent";
    message = "4499: Terminated";
    code = 4499;
    reason = "Terminated";
    wasClean = false;
  };
  function isLikeCloseEvent(val) {
    return isObject(val) && "code" in val && "reason" in val;
  }
  function isFatalInternalCloseCode(code) {
    if ([
      1e3,
      // Normal Closure is not an erroneous close code
      1001,
      // Going Away
      1006,
      // Abnormal Closure
      1005,
      // No Status Received
      1012,
      // Service Restart
      1013,
      // Try Again Later
      1014
      // Bad Gateway
    ].includes(code))
      return false;
    return code >= 1e3 && code <= 1999;
  }
  function isWebSocket(val) {
    return typeof val === "function" && "constructor" in val && "CLOSED" in val && "CLOSING" in val && "CONNECTING" in val && "OPEN" in val;
  }

  // ../../clients/typescript/src/index.ts
  var import_ws = __toESM(require_browser(), 1);
  var OxbowError = class extends Error {
    constructor(status, problem) {
      super(`${status} ${problem.code}: ${problem.detail}`);
      this.status = status;
      this.problem = problem;
      this.name = "OxbowError";
    }
    status;
    problem;
    get code() {
      return this.problem.code;
    }
  };
  var OxbowGraphQLError = class extends Error {
    constructor(errors) {
      super(errors.map((error) => `${error.extensions?.code ?? "ERROR"}: ${error.message}`).join("; "));
      this.errors = errors;
      this.name = "OxbowGraphQLError";
    }
    errors;
    get codes() {
      return this.errors.map((error) => error.extensions?.code ?? "ERROR");
    }
  };
  var RETRIED = /* @__PURE__ */ new Set([429, 502, 503, 504]);
  var NOT_DONE = /* @__PURE__ */ new Set([429, 503]);
  function wait(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }
  function retryAfter(response, attempt) {
    const seconds = Number(response.headers.get("retry-after"));
    return Number.isFinite(seconds) && seconds > 0 ? seconds * 1e3 : Math.min(200 * 2 ** attempt, 1e4);
  }
  function problemOf(response, error) {
    if (typeof error === "object" && error !== null && "code" in error) return error;
    const detail = typeof error === "string" && error ? error : response.statusText || `HTTP ${response.status}`;
    return { type: "about:blank", title: response.statusText, status: response.status, code: `http_${response.status}`, detail };
  }
  var Oxbow = class {
    #options;
    #http;
    #ws;
    constructor(options) {
      this.#options = { retries: 3, ...options, baseUrl: options.baseUrl.replace(/\/$/, "") };
      this.#http = createClient({ baseUrl: this.#options.baseUrl });
    }
    #token() {
      const { token: token2 } = this.#options;
      return typeof token2 === "function" ? token2() : token2;
    }
    #authorization() {
      return { authorization: `Bearer ${this.#token()}` };
    }
    /** Sends a request again while it is answered with one of `retried`; its data, or an
     * {@link OxbowError}. */
    async #answer(send, retried) {
      for (let attempt = 0; ; attempt++) {
        const { data, error, response } = await send();
        if (response.ok && data !== void 0) return data;
        if (retried.has(response.status) && attempt < this.#options.retries) {
          await wait(retryAfter(response, attempt));
          continue;
        }
        throw new OxbowError(response.status, problemOf(response, error));
      }
    }
    /** Sends a command; its answer, or an {@link OxbowError}. Retried under one idempotency key,
     * so a retry after a lost answer appends nothing twice. */
    command(command2, options = {}) {
      const headers = { ...this.#authorization(), "idempotency-key": options.idempotencyKey ?? crypto.randomUUID() };
      return this.#answer(() => this.#http.POST("/v1/commands", { body: command2, headers }), RETRIED);
    }
    /** Operators only (403 `operator_only` for others): every consumer's parked events and the
     * saga work set aside. */
    deadLetters() {
      return this.#answer(() => this.#http.GET("/v1/operations/dead-letters", { headers: this.#authorization() }), NOT_DONE);
    }
    /** Operators only: applies a parked event again; how that settled. */
    retryParked(consumer, position) {
      const body = { consumer, position };
      return this.#answer(() => this.#http.POST("/v1/operations/parked/retry", { body, headers: this.#authorization() }), NOT_DONE);
    }
    /** Operators only: gives a parked event up, recorded in the log with the reason and the
     * operator as actor. */
    skipParked(consumer, position, reason) {
      const body = { consumer, position, reason };
      return this.#answer(() => this.#http.POST("/v1/operations/parked/skip", { body, headers: this.#authorization() }), NOT_DONE);
    }
    /** Operators only: makes set-aside saga work due again. */
    retrySagaWork(id) {
      const body = { id };
      return this.#answer(
        () => this.#http.POST("/v1/operations/saga-work/retry", { body, headers: this.#authorization() }),
        NOT_DONE
      );
    }
    /** Runs a GraphQL query; its `data`, or an {@link OxbowGraphQLError}. */
    async query(query2, variables = {}, options = {}) {
      const headers = {
        ...this.#authorization(),
        "content-type": "application/json",
        accept: "application/graphql-response+json"
      };
      if (options.minPosition !== void 0) headers["x-oxbow-min-position"] = String(options.minPosition);
      for (let attempt = 0; ; attempt++) {
        const response = await fetch(`${this.#options.baseUrl}/graphql`, {
          method: "POST",
          headers,
          body: JSON.stringify({ query: query2, variables })
        });
        if (RETRIED.has(response.status) && attempt < this.#options.retries) {
          await wait(retryAfter(response, attempt));
          continue;
        }
        const text = await response.text();
        let answer;
        try {
          answer = JSON.parse(text);
        } catch {
          throw new OxbowError(response.status, problemOf(response, text.slice(0, 200)));
        }
        if (answer.errors?.length) throw new OxbowGraphQLError(answer.errors);
        return answer.data;
      }
    }
    /** Subscribes over graphql-ws (one connection per client, the token sent on `connection_init`).
     * `next` gets each event's data; the function returned ends the subscription. */
    subscribe(query2, variables, next, error = () => {
    }) {
      this.#ws ??= createClient2({
        url: `${this.#options.baseUrl.replace(/^http/, "ws")}/graphql/ws`,
        webSocketImpl: globalThis.WebSocket ?? import_ws.default,
        connectionParams: () => ({ Authorization: `Bearer ${this.#token()}` }),
        retryAttempts: this.#options.retries
      });
      return this.#ws.subscribe(
        { query: query2, variables },
        {
          next: (result) => result.errors?.length ? error(new OxbowGraphQLError([...result.errors])) : next(result.data),
          error,
          complete: () => {
          }
        }
      );
    }
    /** Closes the subscriptions' connection. */
    async close() {
      await this.#ws?.dispose();
    }
  };

  // src/console.ts
  var ROLES = ["VIEWER", "MEMBER", "ADMIN", "OWNER"];
  var atLeast = (role, least) => role != null && ROLES.indexOf(role) >= ROLES.indexOf(least);
  var TOKEN_KEY = "oxbow.token";
  function takeTokenFromAddress() {
    const match = /(?:^#|&)token=([^&]+)/.exec(location.hash);
    if (match) {
      sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]));
      history.replaceState(null, "", location.pathname + location.search + "#/");
    }
  }
  var token = () => sessionStorage.getItem(TOKEN_KEY);
  var oxbow = new Oxbow({ baseUrl: location.origin, token: () => token() ?? "" });
  var lastPosition = 0;
  function query(document2, variables = {}) {
    return oxbow.query(document2, variables, lastPosition > 0 ? { minPosition: lastPosition } : {});
  }
  async function command(command2) {
    const accepted = await oxbow.command(command2);
    lastPosition = Math.max(lastPosition, accepted.position);
    return accepted;
  }
  function deadLetters() {
    return oxbow.deadLetters().catch((error) => {
      if (error instanceof OxbowError && error.status === 403) return null;
      throw error;
    });
  }
  function refusal(error) {
    if (error instanceof OxbowError) return error.problem.detail;
    if (error instanceof OxbowGraphQLError) return error.errors.map((each) => each.message).join("; ");
    return error instanceof Error ? error.message : String(error);
  }
  var subscriptions = [];
  function subscribe(document2, variables, sink) {
    const refused = (error) => console.error(`a live update was refused: ${refusal(error)}`);
    subscriptions.push(oxbow.subscribe(document2, variables, sink, refused));
  }
  function unsubscribeAll() {
    for (const stop of subscriptions.splice(0)) stop();
  }
  function el(tag, attributes = {}, ...children) {
    const element = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
      if (value === true) element.setAttribute(name, "");
      else if (value !== false) element.setAttribute(name, value);
    }
    for (const child of children) {
      if (child === null || child === void 0 || child === false) continue;
      element.append(child instanceof Node ? child : String(child));
    }
    return element;
  }
  function svg(tag, attributes = {}, ...children) {
    const element = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
    for (const child of children) if (child) element.append(child instanceof Node ? child : String(child));
    return element;
  }
  var main = () => document.getElementById("main");
  function show(...children) {
    const shown = children.filter((child) => child !== null && child !== void 0 && child !== false);
    main().replaceChildren(...shown.map((child) => typeof child === "number" ? String(child) : child));
  }
  var json = (value) => JSON.stringify(value, null, 2);
  var time = (value) => value ? new Date(value).toLocaleString() : "—";
  var statusOf = (status) => el("span", { class: `status status-${status}` }, status);
  function alertBox() {
    const element = el("p", { role: "alert" });
    return { element, say: (error) => element.textContent = refusal(error) };
  }
  function signIn() {
    const input = el("textarea", { id: "token", rows: "4", required: true, "aria-label": "Token" });
    const form = el(
      "form",
      { class: "sign-in" },
      el("h1", {}, "Sign in"),
      el("label", { for: "token" }, "Your token (a JWT); it is kept in this tab only"),
      input,
      el("button", { type: "submit" }, "Sign in")
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      sessionStorage.setItem(TOKEN_KEY, input.value.trim());
      route();
    });
    show(form);
  }
  async function workspaces() {
    const data = await query(
      `query ConsoleWorkspaces { workspaces(first: 100) { nodes { id name myRole
       runCounts { requested running succeeded failed cancelled rejected } } } }`
    );
    const nodes = data.workspaces.nodes;
    const accounts = nodes.length ? await query(
      `query ConsoleBilling(${nodes.map((_, n) => `$w${n}: ID!`).join(", ")}) {
           ${nodes.map((_, n) => `w${n}: billingAccount(workspaceId: $w${n}) { balance reserved available }`).join(" ")} }`,
      Object.fromEntries(nodes.map((workspace, n) => [`w${n}`, workspace.id]))
    ).catch(() => ({})) : {};
    const rows = nodes.map((workspace, n) => {
      const account = accounts[`w${n}`];
      const counts = Object.entries(workspace.runCounts).filter(([, count]) => count > 0).map(([status, count]) => `${status} ${count}`).join(", ");
      return el(
        "tr",
        { "data-workspace-id": workspace.id },
        el("td", {}, el("a", { href: `#/w/${workspace.id}` }, workspace.name)),
        el("td", {}, workspace.myRole),
        el("td", {}, counts || "no runs"),
        el("td", {}, account ? `${account.balance} / ${account.reserved} / ${account.available}` : "—")
      );
    });
    show(
      el("h1", {}, "Workspaces"),
      table(["Workspace", "Your role", "Runs", "Balance / reserved / available"], rows, "You are a member of no workspace.")
    );
  }
  var RUN_FIELDS = "id workspaceId workflowId workflowVersion status budget creditsUsed requestedAt finishedAt";
  function runRow(run) {
    return el(
      "tr",
      { "data-run-id": run.id, "data-status": run.status },
      el("td", {}, el("a", { href: `#/r/${run.id}` }, run.id.slice(0, 8))),
      el("td", {}, statusOf(run.status)),
      el("td", {}, `${run.workflowId.slice(0, 8)} v${run.workflowVersion}`),
      el("td", {}, `${run.creditsUsed} / ${run.budget}`),
      el("td", {}, time(run.requestedAt)),
      el("td", {}, time(run.finishedAt))
    );
  }
  var filterOf = (search) => {
    const params = new URLSearchParams(search);
    const page = Math.trunc(Number(params.get("page")));
    return {
      status: params.get("status") ?? "",
      workflow: params.get("workflow") ?? "",
      from: params.get("from") ?? "",
      to: params.get("to") ?? "",
      page: page >= 1 && page <= 100 ? page : 50
    };
  };
  var kept = (run, filter) => (!filter.status || run.status === filter.status) && (!filter.workflow || run.workflowId === filter.workflow) && (!filter.from || run.requestedAt >= new Date(filter.from).toISOString()) && (!filter.to || run.requestedAt < new Date(filter.to).toISOString());
  function moreButton(label, first, next, row, body, say) {
    const more = el("button", { type: "button", class: "more" }, label);
    let at = first;
    more.hidden = !at.hasNextPage;
    more.addEventListener("click", async () => {
      more.disabled = true;
      try {
        const page = await next(at.endCursor);
        for (const node of page.nodes) {
          const drawn = row(node);
          if (drawn) body.append(drawn);
        }
        at = page.pageInfo;
        more.hidden = !at.hasNextPage;
      } catch (error) {
        say(error);
      }
      more.disabled = false;
    });
    return more;
  }
  async function runs(workspaceId, filter) {
    const variables = {
      id: workspaceId,
      status: filter.status || null,
      workflow: filter.workflow || null,
      from: filter.from ? new Date(filter.from).toISOString() : null,
      to: filter.to ? new Date(filter.to).toISOString() : null
    };
    const RUNS = `runs(workspaceId: $id, status: $status, workflowId: $workflow, from: $from, to: $to, order: NEWEST_FIRST,
    first: ${filter.page}, after: $after) { nodes { ${RUN_FIELDS} } pageInfo { hasNextPage endCursor } }`;
    const VARIABLES = "$id: ID!, $status: RunStatus, $workflow: ID, $from: DateTime, $to: DateTime, $after: String";
    const data = await query(
      `query ConsoleRuns(${VARIABLES}) {
       workspace(id: $id) { name }
       workflows(workspaceId: $id, includeArchived: true, first: 100) { nodes { id name } }
       ${RUNS} }`,
      { ...variables, after: null }
    );
    if (!data.workspace) return show(el("h1", {}, "No such workspace"), el("p", {}, "Or you are not a member of it."));
    const body = el("tbody", {}, ...data.runs.nodes.map(runRow));
    const { element: alert, say } = alertBox();
    const more = moreButton(
      "More runs",
      data.runs.pageInfo,
      (after) => query(`query ConsoleMoreRuns(${VARIABLES}) { ${RUNS} }`, { ...variables, after }).then((page) => page.runs),
      (run) => body.querySelector(`[data-run-id="${run.id}"]`) ? null : runRow(run),
      body,
      say
    );
    more.id = "more-runs";
    const status = el(
      "select",
      { id: "status-filter", "aria-label": "Status" },
      ...["", "REQUESTED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED", "REJECTED"].map(
        (value) => el("option", { value, ...value === filter.status ? { selected: true } : {} }, value || "any status")
      )
    );
    const workflow = el(
      "select",
      { id: "workflow-filter", "aria-label": "Workflow" },
      el("option", { value: "" }, "any workflow"),
      ...data.workflows.nodes.map((flow) => el("option", { value: flow.id, ...flow.id === filter.workflow ? { selected: true } : {} }, flow.name))
    );
    const from = el("input", { type: "date", id: "from-filter", "aria-label": "Requested from", value: filter.from });
    const to = el("input", { type: "date", id: "to-filter", "aria-label": "Requested before", value: filter.to });
    const apply = () => {
      const params = new URLSearchParams();
      for (const [name, input] of [["status", status], ["workflow", workflow], ["from", from], ["to", to]]) {
        if (input.value) params.set(name, input.value);
      }
      if (filter.page !== 50) params.set("page", String(filter.page));
      location.hash = `#/w/${workspaceId}${params.size ? `?${params}` : ""}`;
    };
    for (const input of [status, workflow, from, to]) input.addEventListener("change", apply);
    show(
      el("h1", {}, data.workspace.name),
      el("nav", { "aria-label": "Workspace" }, el("a", { href: `#/w/${workspaceId}/catalog` }, "Agents, workflows and usage")),
      el(
        "div",
        { class: "actions" },
        el("label", { for: "status-filter" }, "Runs:"),
        status,
        workflow,
        el("label", {}, "from ", from),
        el("label", {}, "before ", to)
      ),
      el("div", { class: "scroll" }, el(
        "table",
        { id: "runs" },
        el("thead", {}, el(
          "tr",
          {},
          el("th", {}, "Run"),
          el("th", {}, "Status"),
          el("th", {}, "Workflow"),
          el("th", {}, "Credits / budget"),
          el("th", {}, "Requested"),
          el("th", {}, "Finished")
        )),
        body
      )),
      more,
      alert
    );
    subscribe(
      `subscription ConsoleRunsLive($id: ID!) { workspaceRunUpdated(workspaceId: $id) { run { ${RUN_FIELDS} } } }`,
      { id: workspaceId },
      (data2) => {
        const run = data2?.workspaceRunUpdated?.run;
        if (!run) return;
        const old = body.querySelector(`[data-run-id="${run.id}"]`);
        if (!kept(run, filter)) return old?.remove();
        const row = runRow(run);
        if (old) old.replaceWith(row);
        else body.prepend(row);
      }
    );
  }
  var AGENTS = `agents(workspaceId: $id, includeRetired: true, first: 50, after: $after) { nodes { id name kind version
  retired price { perCall per1kInputTokens per1kOutputTokens } } pageInfo { hasNextPage endCursor } }`;
  var WORKFLOWS = `workflows(workspaceId: $id, includeArchived: true, first: 20, after: $after) { nodes { id name version
  archived steps { id kind dependsOn } } pageInfo { hasNextPage endCursor } }`;
  function table(head, rows, empty) {
    if (!rows.length && empty) return el("p", {}, empty);
    return el("div", { class: "scroll" }, el(
      "table",
      {},
      el("thead", {}, el("tr", {}, ...head.map((h) => el("th", {}, h)))),
      el("tbody", {}, ...rows)
    ));
  }
  var day = (offset) => new Date(Date.now() + offset * 864e5).toISOString().slice(0, 10);
  async function catalog(workspaceId) {
    const data = await query(
      `query ConsoleCatalog($id: ID!, $from: NaiveDate!, $to: NaiveDate!, $after: String) { workspace(id: $id) { name }
       ${AGENTS} ${WORKFLOWS} usageByDay(workspaceId: $id, from: $from, to: $to) { day agentId credits } }`,
      { id: workspaceId, from: day(-29), to: day(1), after: null }
    );
    if (!data.workspace) return show(el("h1", {}, "No such workspace"), el("p", {}, "Or you are not a member of it."));
    const names = new Map(data.agents.nodes.map((agent) => [agent.id, agent.name]));
    const byDay = /* @__PURE__ */ new Map();
    const byAgent = /* @__PURE__ */ new Map();
    for (const row of data.usageByDay) {
      byDay.set(row.day, (byDay.get(row.day) ?? 0) + row.credits);
      byAgent.set(row.agentId, (byAgent.get(row.agentId) ?? 0) + row.credits);
    }
    const days = Array.from({ length: 30 }, (_, n) => day(n - 29));
    const most = Math.max(1, ...byDay.values());
    const { element: alert, say } = alertBox();
    const agentRow = (agent) => el(
      "tr",
      { "data-agent-id": agent.id },
      el("td", {}, agent.name),
      el("td", {}, agent.kind),
      el("td", {}, agent.version),
      el("td", {}, `${agent.price.perCall} / ${agent.price.per1kInputTokens} / ${agent.price.per1kOutputTokens}`),
      el("td", {}, agent.retired ? "retired" : "")
    );
    const workflowRow = (flow) => el(
      "tr",
      { "data-workflow-id": flow.id },
      el("td", {}, flow.name),
      el("td", {}, flow.version),
      el("td", {}, flow.steps.map((step) => step.dependsOn.length ? `${step.id} ← ${step.dependsOn.join(", ")}` : step.id).join("; ")),
      el("td", {}, flow.archived ? "archived" : "")
    );
    const agents = table(["Agent", "Kind", "Version", "Price (call / 1k in / 1k out)", ""], data.agents.nodes.map(agentRow));
    const workflows = table(["Workflow", "Version", "Steps", ""], data.workflows.nodes.map(workflowRow));
    const next = (list) => (after) => query(`query ConsoleMore($id: ID!, $after: String) { ${list} }`, { id: workspaceId, after });
    show(
      el("p", {}, el("a", { href: `#/w/${workspaceId}` }, `← Runs of ${data.workspace.name}`)),
      el("h1", {}, `${data.workspace.name}: agents, workflows and usage`),
      alert,
      el("h2", {}, "Credits by day, the last 30 days"),
      el(
        "div",
        { class: "bars", role: "img", "aria-label": "Credits used each day" },
        ...days.map((d) => {
          const credits = byDay.get(d) ?? 0;
          const bar = el("div", { title: `${d}: ${credits} credits`, "data-day": d });
          bar.style.height = `${Math.round(credits / most * 100)}%`;
          return bar;
        })
      ),
      table(["Agent", "Credits, 30 days"], Array.from(byAgent, ([agent, credits]) => el("tr", {}, el("td", {}, names.get(agent) ?? agent), el("td", {}, credits)))),
      el("h2", {}, "Agents"),
      agents,
      moreButton(
        "More agents",
        data.agents.pageInfo,
        (after) => next(AGENTS)(after).then((page) => page.agents),
        agentRow,
        agents.querySelector("tbody"),
        say
      ),
      el("h2", {}, "Workflows"),
      workflows,
      moreButton(
        "More workflows",
        data.workflows.pageInfo,
        (after) => next(WORKFLOWS)(after).then((page) => page.workflows),
        workflowRow,
        workflows.querySelector("tbody"),
        say
      )
    );
  }
  async function operations() {
    const [status, letters] = await Promise.all([
      query(
        "query ConsoleProjections { projections { name position lag lastError } }"
      ),
      deadLetters()
    ]);
    if (!letters) return show(el("h1", {}, "Operations"), el("p", {}, "For the platform's operators only."));
    const { element: alert, say } = alertBox();
    const done = (what) => (answer) => {
      say(`${what}: ${answer.settled}${answer.error ? ` (${answer.error})` : ""}`);
      setTimeout(route, 1500);
    };
    const parkedRows = letters.parked.map((parked) => {
      const actions = el("td", {});
      const retry = el("button", { type: "button" }, "Retry");
      retry.addEventListener("click", () => oxbow.retryParked(parked.consumer, parked.position).then(done(`Retry of ${parked.position}`), say));
      actions.append(retry);
      if (parked.error) {
        const reason = el("input", { type: "text", "aria-label": `Why position ${parked.position} is given up` });
        const skip = el("button", { type: "button" }, "Skip");
        skip.addEventListener("click", () => oxbow.skipParked(parked.consumer, parked.position, reason.value).then(done(`Skip of ${parked.position}`), say));
        actions.append(" ", reason, " ", skip);
      }
      return el(
        "tr",
        { "data-position": String(parked.position) },
        el("td", {}, parked.consumer),
        el("td", {}, parked.position),
        el("td", {}, parked.stream_id),
        el("td", {}, parked.event_type),
        el("td", {}, parked.error ?? "waits behind"),
        actions
      );
    });
    const workRows = letters.set_aside.map((work) => {
      const retry = el("button", { type: "button" }, "Retry");
      retry.addEventListener("click", () => oxbow.retrySagaWork(work.id).then(done(`Retry of work ${work.id}`), say));
      return el(
        "tr",
        { "data-work-id": String(work.id) },
        el("td", {}, work.id),
        el("td", {}, `${work.saga} ${work.key}`),
        el("td", {}, work.attempts),
        el("td", {}, work.last_error ?? ""),
        el("td", {}, retry)
      );
    });
    show(
      el("h1", {}, "Operations"),
      alert,
      el("h2", {}, "Projections"),
      table(["Projection", "Position", "Lag", "Last error"], status.projections.map((p) => el("tr", {}, el("td", {}, p.name), el("td", {}, p.position), el("td", {}, p.lag), el("td", {}, p.lastError ?? ""))), "None."),
      el("h2", {}, "Parked events"),
      table(["Consumer", "Position", "Stream", "Type", "Error", ""], parkedRows, "None."),
      el("h2", {}, "Set-aside saga work"),
      table(["Id", "Work", "Tries", "Last error", ""], workRows, "None.")
    );
  }
  var RUN_QUERY = `${RUN_FIELDS} input output reason retryOf steps { id kind agentId approvers dependsOn status attempts
  input output error deadline retryAt cost artifacts { name version mediaType size uri } }`;
  function dag(steps) {
    const layer = /* @__PURE__ */ new Map();
    const depth = (step, seen) => {
      if (layer.has(step.id)) return layer.get(step.id);
      if (seen.has(step.id)) return 0;
      seen.add(step.id);
      const parents = step.dependsOn.map((id) => steps.find((other) => other.id === id)).filter((s) => !!s);
      const value = parents.length ? Math.max(...parents.map((parent) => depth(parent, seen) + 1)) : 0;
      layer.set(step.id, value);
      return value;
    };
    steps.forEach((step) => depth(step, /* @__PURE__ */ new Set()));
    const rows = /* @__PURE__ */ new Map();
    const place = /* @__PURE__ */ new Map();
    for (const step of steps) {
      const column = layer.get(step.id) ?? 0;
      const row = rows.get(column) ?? 0;
      rows.set(column, row + 1);
      place.set(step.id, { x: 10 + column * 190, y: 10 + row * 64 });
    }
    const width = 20 + (Math.max(0, ...layer.values()) + 1) * 190;
    const height = 20 + Math.max(1, ...rows.values()) * 64;
    const drawing = svg("svg", { width, height, role: "group", "aria-label": "The run's steps and their dependencies" });
    for (const step of steps) {
      const to = place.get(step.id);
      for (const parent of step.dependsOn) {
        const from = place.get(parent);
        if (from) drawing.append(svg("line", { x1: from.x + 160, y1: from.y + 22, x2: to.x, y2: to.y + 22 }));
      }
    }
    for (const step of steps) {
      const at = place.get(step.id);
      const node = svg(
        "g",
        { "data-step-id": step.id, "data-status": step.status, tabindex: 0, role: "link" },
        svg("rect", { x: at.x, y: at.y, width: 160, height: 44 }),
        svg("text", { x: at.x + 8, y: at.y + 18 }, step.id),
        svg("text", { x: at.x + 8, y: at.y + 35 }, step.status)
      );
      const open = () => document.getElementById(`step-${step.id}`)?.scrollIntoView({ block: "nearest" });
      node.addEventListener("click", open);
      node.addEventListener("keydown", (event) => event.key === "Enter" && open());
      drawing.append(node);
    }
    return el("div", { class: "dag" }, drawing);
  }
  function stepDetails(run, step, role, refresh) {
    const section = el(
      "section",
      { id: `step-${step.id}`, "data-step-id": step.id, "data-status": step.status },
      el("h3", {}, `${step.id} `, statusOf(step.status)),
      el(
        "p",
        {},
        `${step.kind.toLowerCase()} step · attempts ${step.attempts} · cost ${step.cost}`,
        step.deadline ? ` · deadline ${time(step.deadline)}` : "",
        step.retryAt ? ` · next retry ${time(step.retryAt)}` : ""
      ),
      step.input != null ? el("details", {}, el("summary", {}, "Input"), el("pre", {}, json(step.input))) : null,
      step.output != null ? el("div", {}, el("h4", {}, "Output"), el("pre", { class: "output" }, json(step.output))) : null,
      step.error ? el("div", {}, el("h4", {}, "Error"), el("pre", {}, step.error)) : null,
      step.artifacts.length ? el("ul", {}, ...step.artifacts.map((artifact) => el("li", {}, `${artifact.name} v${artifact.version} (${artifact.mediaType}, ${artifact.size} bytes) ${artifact.uri}`))) : null
    );
    const mayAnswer = step.kind === "APPROVAL" && step.status === "WAITING" && atLeast(role, step.approvers ?? "MEMBER");
    if (mayAnswer) {
      const { element: alert, say } = alertBox();
      const note = el("input", { type: "text", "aria-label": `Comment or reason for ${step.id}` });
      const approve = el("button", { type: "button" }, "Approve");
      const reject = el("button", { type: "button" }, "Reject");
      approve.addEventListener("click", () => command({ type: "ApproveStep", id: run.id, payload: { step_id: step.id, ...note.value ? { comment: note.value } : {} } }).then(refresh, say));
      reject.addEventListener("click", () => command({ type: "RejectStep", id: run.id, payload: { step_id: step.id, reason: note.value } }).then(refresh, say));
      section.append(el("div", { class: "actions" }, note, approve, reject), alert);
    }
    return section;
  }
  async function runPage(runId) {
    const load = () => query(`query ConsoleRun($id: ID!) { run(id: $id) { ${RUN_QUERY} } }`, { id: runId });
    let first = await load();
    for (let tries = 0; !first.run && tries < 10; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      first = await load();
    }
    if (!first.run) return show(el("h1", {}, "No such run"), el("p", {}, "Or you are not a member of its workspace."));
    const roleAnswer = await query(
      "query ConsoleRole($id: ID!) { workspace(id: $id) { myRole name } }",
      { id: first.run.workspaceId }
    );
    const role = roleAnswer.workspace?.myRole ?? null;
    let drawn = "";
    const render = (run) => {
      const state = JSON.stringify(run);
      if (state === drawn) return;
      drawn = state;
      const { element: alert, say } = alertBox();
      const actions = el("div", { class: "actions" });
      const refresh = () => load().then((answer) => answer.run && render(answer.run), say);
      if (atLeast(role, "MEMBER") && (run.status === "REQUESTED" || run.status === "RUNNING")) {
        const cancel = el("button", { type: "button" }, "Cancel run");
        cancel.addEventListener("click", () => command({ type: "CancelRun", id: run.id, payload: { reason: "cancelled in the console" } }).then(refresh, say));
        actions.append(cancel);
      }
      if (atLeast(role, "MEMBER") && (run.status === "FAILED" || run.status === "CANCELLED")) {
        const budget = el("input", { type: "number", min: "1", value: String(run.budget), "aria-label": "Budget of the retry" });
        const retry = el("button", { type: "button" }, "Retry");
        retry.addEventListener("click", () => {
          const id = crypto.randomUUID();
          command({ type: "StartRun", id, payload: {
            workspace_id: run.workspaceId,
            workflow_id: run.workflowId,
            workflow_version: run.workflowVersion,
            input: run.input,
            budget: Number(budget.value),
            retry_of: run.id
          } }).then(() => location.hash = `#/r/${id}`, say);
        });
        actions.append(el("label", {}, "Budget ", budget), retry);
      }
      show(
        el("p", {}, el("a", { href: `#/w/${run.workspaceId}` }, `← ${roleAnswer.workspace?.name ?? "Workspace"}`)),
        el("h1", { "data-run-id": run.id, "data-status": run.status }, `Run ${run.id.slice(0, 8)} `, statusOf(run.status)),
        el(
          "p",
          {},
          `workflow ${run.workflowId} v${run.workflowVersion} · credits ${run.creditsUsed} of ${run.budget} · requested ${time(run.requestedAt)} · finished ${time(run.finishedAt)}`,
          run.reason ? ` · ${run.reason}` : "",
          run.retryOf ? el("span", {}, " · retries ", el("a", { href: `#/r/${run.retryOf}` }, run.retryOf.slice(0, 8))) : null
        ),
        actions,
        alert,
        dag(run.steps),
        el("div", { class: "steps" }, ...run.steps.map((step) => stepDetails(run, step, role, refresh))),
        run.output != null ? el("div", {}, el("h2", {}, "Output"), el("pre", {}, json(run.output))) : null
      );
    };
    render(first.run);
    subscribe(
      `subscription ConsoleRunLive($id: ID!) { runUpdated(runId: $id) { run { ${RUN_QUERY} } } }`,
      { id: runId },
      (data) => data?.runUpdated?.run && render(data.runUpdated.run)
    );
  }
  async function route() {
    unsubscribeAll();
    const signOut = document.getElementById("sign-out");
    if (!token()) {
      signOut.hidden = true;
      return signIn();
    }
    signOut.hidden = false;
    const [path, search] = location.hash.replace(/^#/, "").split("?");
    const parts = path.split("/").filter(Boolean);
    try {
      if (parts[0] === "w" && parts[1] && parts[2] === "catalog") await catalog(parts[1]);
      else if (parts[0] === "w" && parts[1]) await runs(parts[1], filterOf(search ?? ""));
      else if (parts[0] === "ops") await operations();
      else if (parts[0] === "r" && parts[1]) await runPage(parts[1]);
      else await workspaces();
    } catch (error) {
      const { element, say } = alertBox();
      say(error);
      show(el("h1", {}, "Something was refused"), element);
    }
    main().focus();
  }
  takeTokenFromAddress();
  document.getElementById("sign-out")?.addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    location.hash = "#/";
    route();
  });
  window.addEventListener("hashchange", route);
  route();
})();
