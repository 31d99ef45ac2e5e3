using System.Text;
using EdgeSelector.Core.Bundles;
using EdgeSelector.Core.Features;
using EdgeSelector.Core.Models;
using EdgeSelector.Primitives;
using EdgeSelector.Protocol;

namespace EdgeSelector.Chaos.Tests.Infrastructure;

/// <summary>Requests the chaos tests send: members, demo titles, signed bundles, profile batches.</summary>
internal static class Traffic
{
    /// <summary>The demo catalog's first titles (DemoData): every one has a model.</summary>
    public static readonly TitleCandidate[] Page = [.. Enumerable.Range(1001, 12).Select(t => new TitleCandidate((uint)t, 0.5f, false))];

    public static RequestContext Member(ulong id) => new()
    {
        MemberId = id,
        Country = CountryCode.Pack("US"),
        Language = CountryCode.Pack("EN"),
        Device = DeviceClass.Tv,
        HourOfDay = 21,
        DayOfWeek = 5,
    };

    /// <summary>A partial bundle of one title (1003) at <paramref name="version"/>, signed with the chaos key.</summary>
    public static byte[] Bundle(ulong version)
    {
        const uint title = 1003;
        var model = new TitleModel(title, version, (title * 100) + 1, FeatureSpace.Default) { PriorMean = 0.05f };
        for (uint i = 1; i <= 3; i++)
        {
            model.Images.Add(new ImageModel((title * 100) + i, FeatureSpace.Default.Dimension) { Bias = i == 1 + (version % 3) ? 0.9f : 0.01f, BiasVariance = 1e-6f });
        }

        return ModelBundle.Write(
            new BundleManifest { Version = version, ParentVersion = version - 1, Full = false, CreatedAtMs = 1 },
            [model.Serialize(ModelDefaults.ServingPrecision)],
            Encoding.UTF8.GetBytes(ChaosNode.BundleKey));
    }

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
