using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace Reconciler.Engine.Tests.State;

/// <summary>
/// The catalog as GET /v1/health/service/:service lists it (Consul's "List Service Instances for Service",
/// https://developer.hashicorp.com/consul/api-docs/health#list-service-instances-for-service), for host groups taken from
/// the catalog: one entry per instance with Node {Node, Address, Datacenter, Meta}, Service {ID, Service, Tags, Address,
/// Port} and Checks; ?tag= (repeatable: every tag must match), ?dc= (another datacenter than the agent's "dc1" that no
/// instance is in: 500 "No path to datacenter"), ?passing (only instances whose every check passes), and blocking queries
/// on ?index= whose X-Consul-Index is the last change of that service's instances. Instances registered here are kept
/// apart from <see cref="RegisterService"/>'s (used by the health checks), which the endpoint serves for other names.
/// </summary>
public sealed partial class ConsulTestServer
{
    public const string AgentDatacenter = "dc1";

    private sealed record CatalogEntry(string Node, string Address, string Datacenter, IReadOnlyDictionary<string, string> NodeMeta,
        string ServiceId, string Service, IReadOnlyList<string> Tags, string ServiceAddress, int Port, string Status, ulong ModifyIndex);

    private readonly List<CatalogEntry> _catalog = [];
    private readonly Dictionary<string, ulong> _catalogIndex = new(StringComparer.Ordinal);

    /// <summary>Registers (or replaces) an instance of <paramref name="service"/> on <paramref name="node"/> with one check of
    /// <paramref name="status"/> (passing, warning or critical).</summary>
    public void RegisterCatalogInstance(string node, string address, string service, IReadOnlyList<string>? tags = null,
        string datacenter = AgentDatacenter, IReadOnlyDictionary<string, string>? nodeMeta = null, string serviceAddress = "", int port = 8080,
        string status = "passing")
    {
        lock (_gate)
        {
            var idx = ++_index;
            _catalog.RemoveAll(e => e.Node == node && e.Service == service);
            _catalog.Add(new CatalogEntry(node, address, datacenter, nodeMeta ?? new Dictionary<string, string>(), $"{service}-{node}", service,
                tags ?? [], serviceAddress, port, status, idx));
            _catalogIndex[service] = idx;
            Changed();
        }
    }

    /// <summary>Removes <paramref name="node"/>'s instance of <paramref name="service"/> (consul services deregister).</summary>
    public void DeregisterCatalogInstance(string node, string service)
    {
        lock (_gate)
        {
            _catalog.RemoveAll(e => e.Node == node && e.Service == service);
            _catalogIndex[service] = ++_index;
            Changed();
        }
    }

    /// <summary>Sets the status of <paramref name="node"/>'s instance check.</summary>
    public void SetCatalogInstanceStatus(string node, string service, string status)
    {
        lock (_gate)
        {
            var idx = ++_index;
            for (var i = 0; i < _catalog.Count; i++)
                if (_catalog[i].Node == node && _catalog[i].Service == service) _catalog[i] = _catalog[i] with { Status = status, ModifyIndex = idx };
            _catalogIndex[service] = idx;
            Changed();
        }
    }

    private bool IsCatalogService(string service)
    {
        lock (_gate) return _catalogIndex.ContainsKey(service);
    }

    private async Task CatalogHealthServiceAsync(HttpContext ctx, string service, IQueryCollection q)
    {
        var wantIndex = ulong.TryParse(q["index"], out var i) ? i : 0;
        var deadline = _time.GetUtcNow() + (q.ContainsKey("wait") ? ParseDuration(q["wait"]!) : TimeSpan.FromMinutes(5));
        var datacenter = q.ContainsKey("dc") ? q["dc"].ToString() : AgentDatacenter;
        var tags = q["tag"].Where(t => t is not null).Select(t => t!).ToList();
        // agent/health_endpoint.go: ?passing with no value (or any value but false) filters.
        var passing = q.ContainsKey("passing") && q["passing"].ToString() != "false";
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                if (datacenter != AgentDatacenter && !_catalog.Any(e => e.Datacenter == datacenter))
                {
                    WriteText(ctx, 500, "No path to datacenter");
                    return;
                }
                var index = _catalogIndex.GetValueOrDefault(service);
                if (wantIndex == 0 || index > wantIndex || _time.GetUtcNow() >= deadline)
                {
                    var entries = _catalog
                        .Where(e => e.Service == service && e.Datacenter == datacenter && tags.All(e.Tags.Contains) && (!passing || e.Status == "passing"))
                        .OrderBy(e => e.Node, StringComparer.Ordinal)
                        .Select(e => (JsonNode)new JsonObject
                        {
                            ["Node"] = new JsonObject
                            {
                                ["Node"] = e.Node, ["Address"] = e.Address, ["Datacenter"] = e.Datacenter,
                                ["Meta"] = new JsonObject([.. e.NodeMeta.Select(m => KeyValuePair.Create(m.Key, (JsonNode?)m.Value))]),
                            },
                            ["Service"] = new JsonObject
                            {
                                ["ID"] = e.ServiceId, ["Service"] = e.Service, ["Tags"] = new JsonArray([.. e.Tags.Select(t => (JsonNode)t)]),
                                ["Address"] = e.ServiceAddress, ["Port"] = e.Port,
                            },
                            ["Checks"] = new JsonArray(new JsonObject
                            {
                                ["Node"] = e.Node, ["CheckID"] = "service:" + e.ServiceId, ["Name"] = "Service check", ["Status"] = e.Status,
                                ["Output"] = "", ["ServiceID"] = e.ServiceId, ["ServiceName"] = e.Service,
                            }),
                        }).ToArray();
                    ctx.Response.Headers["X-Consul-Index"] = index.ToString(System.Globalization.CultureInfo.InvariantCulture);
                    ctx.Response.Headers["X-Consul-KnownLeader"] = "true";
                    WriteJson(ctx, 200, new JsonArray(entries));
                    return;
                }
                changed = _changed.Task;
            }
            var remaining = deadline - _time.GetUtcNow();
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(ctx.RequestAborted);
            await Task.WhenAny(changed, Task.Delay(remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero, _time, cts.Token));
            await cts.CancelAsync();
            ctx.RequestAborted.ThrowIfCancellationRequested();
        }
    }
}
