using System.Net;

namespace Reconciler.Consul;

public sealed partial class ConsulClient
{
    // ---- Catalog (host groups from the Consul catalog, issue 14) ---------------------------------------------

    /// <summary>The instances of <paramref name="service"/> (GET /v1/health/service/:service, Consul's "List Service
    /// Instances for Service"): only those with the tag, in that datacenter (null: the agent's own), and with every check
    /// passing when <paramref name="passingOnly"/>. Sorted by node, then service id; the index is X-Consul-Index.
    /// A listing that ACLs filtered is an <see cref="ConsulErrorKind.AclDenied"/>, never a shorter list.</summary>
    public async Task<ConsulResult<IReadOnlyList<CatalogInstance>>> ServiceInstancesAsync(string service, string? tag, string? datacenter,
        bool passingOnly, CancellationToken ct = default)
    {
        var query = new List<string>();
        if (tag is not null) query.Add("tag=" + Uri.EscapeDataString(tag));
        if (datacenter is not null) query.Add("dc=" + Uri.EscapeDataString(datacenter));
        if (passingOnly) query.Add("passing=true");
        var r = await SendAsync(HttpMethod.Get, "/v1/health/service/" + Uri.EscapeDataString(service), string.Join("&", query), null,
            idempotent: true, null, ct);
        ThrowIfFiltered(r, "service " + service);
        if (r.Status == HttpStatusCode.NotFound) return new([], r.Index);
        var list = (Deserialize<List<ServiceEntryWire>>(r.Body) ?? [])
            .Select(e => new CatalogInstance(e.Node?.Node ?? "", e.Service?.ID ?? "",
                string.IsNullOrEmpty(e.Service?.Address) ? e.Node?.Address ?? "" : e.Service.Address,   // Consul: an empty service address means the node's
                e.Node?.Datacenter ?? "", e.Service?.Port ?? 0,
                (IReadOnlyDictionary<string, string>?)e.Node?.Meta ?? new Dictionary<string, string>()))
            .OrderBy(i => i.Node, StringComparer.Ordinal).ThenBy(i => i.ServiceId, StringComparer.Ordinal)
            .ToList();
        return new(list, r.Index);
    }
}
