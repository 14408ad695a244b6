using System.Text;
using Reconciler.Consul;

namespace Reconciler.Drivers.ConsulKv;

/// <summary>Publishes toggles as <c>toggles/ENV/NAME</c> = "true"/"false" (docs/state.md, app-facing keys). Deletes
/// only the named keys of removed toggles, never a prefix.</summary>
public sealed class ConsulTogglePublisher(ConsulClient consul) : ITogglePublisher
{
    public async Task PublishAsync(string environment, IReadOnlyDictionary<string, bool?> toggles, CancellationToken ct)
    {
        var ops = toggles.OrderBy(t => t.Key, StringComparer.Ordinal)
            .Select(t => t.Value is { } on
                ? TxnOp.Set(ConsulKeys.AppToggle(environment, t.Key), Encoding.UTF8.GetBytes(on ? "true" : "false"))
                : TxnOp.Delete(ConsulKeys.AppToggle(environment, t.Key)))
            .ToList();
        // Each toggle key stands alone (apps read them one by one), so chunks within the txn limits lose no atomicity that matters.
        foreach (var chunk in consul.Chunks(ops))
        {
            var result = await consul.TxnAsync([.. chunk], ct);
            if (!result.Committed)
                throw new HostStepException("consul", "publish toggles",
                    string.Join("; ", result.Errors.Select(e => e.What).DefaultIfEmpty("the transaction was not committed")));
        }
    }
}
