using System.Text;
using EdgeSelector.Primitives;
using EdgeSelector.Protocol;

namespace EdgeSelector.Chaos.Tests.Infrastructure;

/// <summary>Requests the chaos tests send: members, demo titles, signed bundles, profile batches.</summary>
internal static class Traffic
{
    /// <summary>The demo catalog's first titles (DemoData): every one has a model.</summary>
    public static readonly TitleCandidate[] Page = [.. Enumerable.Range(1001, 12).Select(t => new TitleCandidate((uint)t, 0.5f, false))];

    public static RequestContext Member(ulong id) => Members.Member(id);

    /// <summary>A partial bundle of one title (1003) at <paramref name="version"/>, signed with the chaos key.</summary>
    public static byte[] Bundle(ulong version) =>
        TestBundles.Partial(version, ChaosNode.BundleKey, TestBundles.TitleWithWinner(1003, version, 100300 + 1 + (uint)(version % 3)));

    /// <summary>A PUT /v1/profiles body for members <paramref name="first"/> … first + count - 1.</summary>
    public static StringContent Profiles(ulong first, int count)
    {
        var json = new StringBuilder("{\"profiles\":[");
        for (var i = 0; i < count; i++)
        {
            json.Append(i == 0 ? "" : ",").Append("{\"memberId\":").Append(first + (ulong)i).Append(",\"country\":\"DE\",\"device\":\"web\",\"genres\":{\"comedy\":0.7}}");
        }

        return new StringContent(json.Append("]}").ToString(), Encoding.UTF8, "application/json");
    }
}
