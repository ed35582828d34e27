// Every request body the API takes (CreateJob, PutJobTagging), mutated 400 ways from valid ones:
// dropped, duplicated and renamed elements, bad values, deep nesting, huge lists, truncation,
// non-XML, entities, comments and CDATA. Each answer is a 4xx S3 Control XML error, or, for a
// mutation that is still a valid request, a success. None is a 5xx.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ACCOUNT_ID } from "../helpers/clients.ts";
import { createJob, createJobInput } from "../helpers/jobs.ts";
import { rng } from "../helpers/rng.ts";
import { startTestRuntime, type TestRuntime } from "../helpers/runtime.ts";
import { signedRequest } from "../helpers/signing.ts";

const NS = "http://awss3control.amazonaws.com/doc/2018-08-20/";
type Element = { name: string; children: Node[] };
type Node = Element | { text: string };

const el = (name: string, ...children: (Node | string)[]): Node => ({
  name,
  children: children.map((c) => (typeof c === "string" ? { text: c } : c)),
});
const list = (name: string, items: Node[]) =>
  el(name, ...items.map((i) => el("member", ...("children" in i ? i.children : [i]))));

/** A CreateJob request that uses most of the model: tags, a copy with metadata, a filtered report. */
const createJobTree = () =>
  el(
    "CreateJobRequest",
    el("ConfirmationRequired", "true"),
    el(
      "Operation",
      el(
        "S3PutObjectCopy",
        el("TargetResource", "arn:aws:s3:::pool2"),
        el("CannedAccessControlList", "private"),
        el("MetadataDirective", "REPLACE"),
        el(
          "NewObjectMetadata",
          el("ContentType", "text/plain"),
          el("UserMetadata", el("entry", el("key", "a"), el("value", "b"))),
        ),
        list("NewObjectTagging", [el("x", el("Key", "k1"), el("Value", "v1"))]),
        el("StorageClass", "STANDARD"),
        el("TargetKeyPrefix", "copies/"),
      ),
    ),
    el(
      "Report",
      el("Bucket", "arn:aws:s3:::pool2"),
      el("Format", "Report_CSV_20180820"),
      el("Enabled", "true"),
      el("Prefix", "reports"),
      el("ReportScope", "AllTasks"),
    ),
    el("ClientRequestToken", "TOKEN"),
    el(
      "Manifest",
      el(
        "Spec",
        el("Format", "S3BatchOperations_CSV_20180820"),
        list("Fields", [{ text: "Bucket" }, { text: "Key" }]),
      ),
      el("Location", el("ObjectArn", "arn:aws:s3:::pool/no-such-manifest.csv"), el("ETag", "abc")),
    ),
    el("Description", "mutated"),
    el("Priority", "10"),
    el("RoleArn", `arn:aws:iam::${ACCOUNT_ID}:role/batch`),
    list("Tags", [
      el("x", el("Key", "team"), el("Value", "storage")),
      el("x", el("Key", "env"), el("Value", "")),
    ]),
  );

const taggingTree = () =>
  el(
    "PutJobTaggingRequest",
    list("Tags", [el("x", el("Key", "a"), el("Value", "1")), el("x", el("Key", "b"), el("Value", "2"))]),
  );

const escapeText = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
function serialize(n: Node, root = true): string {
  if ("text" in n) return escapeText(n.text);
  const attrs = root ? ` xmlns="${NS}"` : "";
  return `<${n.name}${attrs}>${n.children.map((c) => serialize(c, false)).join("")}</${n.name}>`;
}

/** Every element below the root, with its parent. */
function elements(n: Node, parent?: Element): { node: Element; parent?: Element }[] {
  if ("text" in n) return [];
  const here = parent ? [{ node: n, parent }] : [];
  return [...here, ...n.children.flatMap((c) => elements(c, n))];
}
function texts(n: Node): { text: string }[] {
  if ("text" in n) return [n];
  return n.children.flatMap(texts);
}

const BAD_VALUES = [
  "",
  "-1",
  "2147483648",
  "99999999999999999999999",
  "abc",
  "true",
  "NaN",
  "1e5",
  " 12 ",
  "0x10",
  "\u0000",
  "😀".repeat(300),
  "x".repeat(5000),
  "arn:aws:s3:::",
  "arn:aws:s3:::UPPER",
  "../../etc/passwd",
  "<script>",
  "2026-13-45T99:99:99Z",
];

function mutate(seed: number): string {
  const rand = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const tree = rand() < 0.85 ? createJobTree() : taggingTree();
  const all = elements(tree);
  const kind = Math.floor(rand() * 16);
  switch (kind) {
    case 0: {
      const { node, parent } = pick(all);
      if (parent) parent.children.splice(parent.children.indexOf(node), 1);
      break;
    }
    case 1: {
      const { node, parent } = pick(all);
      parent?.children.splice(parent.children.indexOf(node), 0, structuredClone(node));
      break;
    }
    case 2: {
      const { node } = pick(all);
      node.name = pick(["member", "Unknown", node.name.toLowerCase(), `${node.name}X`, "a:b", "Tags"]);
      break;
    }
    case 3:
    case 4: {
      const t = pick(texts(tree));
      t.text = pick(BAD_VALUES);
      break;
    }
    case 5: {
      const t = pick(texts(tree));
      const depth = 20 + Math.floor(rand() * 2000);
      t.text = "";
      return serialize(tree).replace(
        "<Description>mutated",
        `<Description>${"<d>".repeat(depth)}x${"</d>".repeat(depth)}`,
      );
    }
    case 6: {
      const n = 51 + Math.floor(rand() * 3000);
      const tags = Array.from({ length: n }, (_, i) => el("x", el("Key", `k${i}`), el("Value", "v")));
      const root = tree as Element;
      root.children = root.children.filter((c) => !("name" in c) || c.name !== "Tags");
      root.children.push(list("Tags", tags));
      break;
    }
    case 7: {
      const body = serialize(tree);
      return body.slice(0, Math.floor(rand() * body.length));
    }
    case 8:
      return pick([
        "",
        "null",
        '{"Operation":{}}',
        "\u0000\u0001\u0002binary\u00ff",
        "<",
        "<<<>>>",
        "plain text",
        `<?xml version="1.0"?>`,
        `<CreateJobRequest xmlns="${NS}"/>`,
        `<CreateJobRequest xmlns="${NS}"></CreateJobRequest><Extra/>`,
      ]);
    case 9: {
      const { node } = pick(all);
      node.children.push({ text: "" });
      return serialize(tree).replace(
        `<${node.name}>`,
        `<${node.name} ${pick(['a="1"', 'xmlns="urn:x"', 'x:y="z"', "b"])}>`,
      );
    }
    case 10:
      return serialize(tree).replace(
        "mutated",
        pick(["<![CDATA[<x>]]>", "<!-- c -->", "<?pi x?>", "&xxe;", "&#0;", "&#x110000;", "&amp;amp;"]),
      );
    case 11:
      return serialize(tree).replace(NS, pick(["", "http://s3.amazonaws.com/doc/2006-03-01/", `${NS}x`]));
    case 12: {
      const { node } = pick(all);
      node.children.push(el(pick(["Unknown", "Operation", "Manifest", "member"]), "x"));
      break;
    }
    case 13: {
      const n = 11 + Math.floor(rand() * 1500);
      const spec = all.find((e) => e.node.name === "Fields")?.node;
      if (spec)
        spec.children = Array.from({ length: n }, () =>
          el("member", pick(["Bucket", "Key", "VersionId", "Ignore"])),
        );
      break;
    }
    case 14: {
      const op = all.find((e) => e.node.name === "Operation")?.node;
      if (op)
        op.children.push(
          el("S3PutObjectTagging", list("TagSet", [el("x", el("Key", "a"), el("Value", "b"))])),
        );
      break;
    }
    default: {
      // A valid request, reordered: still accepted.
      const root = tree as Element;
      root.children.sort(() => rand() - 0.5);
    }
  }
  return serialize(tree);
}

let t: TestRuntime;
let taggedJob = "";
beforeAll(async () => {
  t = await startTestRuntime();
  taggedJob = await createJob(
    t.control,
    createJobInput(
      { arn: "arn:aws:s3:::pool/none.csv", etag: "x" },
      { S3PutObjectTagging: { TagSet: [] } },
      { ConfirmationRequired: true },
    ),
  );
});
afterAll(async () => {
  await t?.stop();
});

describe("mutated request bodies", () => {
  it("get a 4xx S3 Control error or are accepted, never a 5xx, for 400 mutations", async () => {
    const outcomes = new Map<string, number>();
    for (let seed = 1; seed <= 400; seed++) {
      const body = mutate(seed).replace("TOKEN", `tok-${seed}`);
      const tagging = body.includes("PutJobTaggingRequest");
      const req = await signedRequest(
        t.runtime.url,
        tagging ? `/v20180820/jobs/${taggedJob}/tagging` : "/v20180820/jobs",
        {
          method: tagging ? "PUT" : "POST",
          body,
        },
      );
      const res = await fetch(req);
      const text = await res.text();
      expect(res.status, `seed ${seed}: ${text.slice(0, 300)}`).toBeLessThan(500);
      if (res.status >= 400) {
        const code = /<Code>([A-Za-z]+)<\/Code>/.exec(text)?.[1];
        expect(code, `seed ${seed}: ${text.slice(0, 300)}`).toMatch(/Exception$|^AccessDenied$/);
        outcomes.set(code ?? "", (outcomes.get(code ?? "") ?? 0) + 1);
      } else {
        expect(text, `seed ${seed}`).toMatch(
          tagging ? /PutJobTaggingResult/ : /<JobId>[A-Za-z0-9_-]+<\/JobId>/,
        );
        outcomes.set("accepted", (outcomes.get("accepted") ?? 0) + 1);
      }
    }
    // The mutations reach both sides: refusals of several kinds, and some still-valid requests.
    expect(outcomes.get("accepted") ?? 0).toBeGreaterThan(10);
    expect(outcomes.get("BadRequestException") ?? 0).toBeGreaterThan(10);
    expect(outcomes.get("InvalidRequestException") ?? 0).toBeGreaterThan(10);
    expect(outcomes.get("TooManyTagsException") ?? 0).toBeGreaterThan(0);
  });
});
