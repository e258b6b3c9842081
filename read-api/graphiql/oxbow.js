// Starts GraphiQL on this read API: queries on ./graphql, subscriptions on ./graphql/ws. The
// bearer token goes in the Authorization header, which the subscription client also sends as
// its connection parameter. A token in the page's fragment (#token=…, which browsers never
// send to a server) fills it in and is then removed from the address bar.
(function () {
  "use strict";
  var fragment = new URLSearchParams(window.location.hash.slice(1));
  var token = fragment.get("token");
  if (token) {
    history.replaceState(null, "", window.location.pathname + window.location.search);
  }
  var endpoint = new URL("graphql", window.location.href);
  var subscriptions = new URL("graphql/ws", window.location.href);
  subscriptions.protocol = endpoint.protocol === "https:" ? "wss:" : "ws:";
  var fetcher = GraphiQL.createFetcher({ url: endpoint.href, subscriptionUrl: subscriptions.href });
  var headers = JSON.stringify({ Authorization: "Bearer " + (token || "") }, null, 2);
  var props = {
    fetcher: fetcher,
    defaultHeaders: headers,
    defaultEditorToolsVisibility: "headers",
    shouldPersistHeaders: false,
  };
  if (token) {
    props.headers = headers;
  }
  ReactDOM.createRoot(document.getElementById("graphiql")).render(React.createElement(GraphiQL, props));
})();
