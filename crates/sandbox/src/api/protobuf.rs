//! Protobuf request bodies, decoded to the JSON object they encode. kubectl 1.32+ writes the
//! built-in objects of its typed commands (`kubectl create deployment|service|job|cronjob|
//! configmap|secret|namespace|serviceaccount|role|rolebinding|pdb|ingress ...`) as
//! `application/vnd.kubernetes.protobuf`: the magic `k8s\0`, then a `runtime.Unknown` whose
//! `raw` field is the object's protobuf message.
//! https://kubernetes.io/docs/reference/using-api/api-concepts/#protobuf-encoding
//!
//! The field numbers are in `protobuf/kinds.rs`. A kind outside that table, or a field with a
//! value that the table does not name, gets 415 Unsupported Media Type listing JSON and YAML
//! (the answer of a server for a body it cannot read), so nothing is silently dropped and a
//! client can send the object as JSON (`kubectl apply`).

mod kinds;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};

use super::status::ApiError;

/// The prefix of every Kubernetes protobuf body.
const MAGIC: &[u8] = b"k8s\x00";

/// How deep messages nest before a body is taken as malformed.
const MAX_DEPTH: usize = 32;

/// How one field is read and written to JSON. Go encodes every non-pointer field, also when
/// it is empty or zero; JSON leaves those out (`omitempty`), pointers only when nil.
#[derive(Clone, Copy)]
enum Ty {
    /// A string; empty means unset.
    Str,
    /// A non-pointer integer; zero means unset.
    Int,
    /// A pointer integer (`*int32`): present means set, also when zero.
    OptInt,
    /// A non-pointer bool; false means unset.
    Flag,
    /// A pointer bool (`*bool`): present means set.
    Bool,
    /// `map<string, string>`.
    StrMap,
    /// `map<string, bytes>`, base64 in JSON.
    BytesMap,
    /// `map<string, Quantity>` (resource limits and requests), strings in JSON.
    QuantityMap,
    /// `IntOrString`: `{type, intVal, strVal}`, a number or a string in JSON.
    IntOrString,
    /// A nested message.
    Msg(&'static [Field]),
    /// A nested message whose fields JSON puts in the parent (a Go struct embedded `inline`).
    Inline(&'static [Field]),
    /// A field the server sets itself and ignores on a create (status, timestamps).
    Ignore,
}

#[derive(Clone, Copy)]
struct Field {
    number: u64,
    name: &'static str,
    ty: Ty,
    repeated: bool,
}

const fn f(number: u64, name: &'static str, ty: Ty) -> Field {
    Field {
        number,
        name,
        ty,
        repeated: false,
    }
}

const fn rep(number: u64, name: &'static str, ty: Ty) -> Field {
    Field {
        number,
        name,
        ty,
        repeated: true,
    }
}

/// Why a body cannot be read.
enum Problem {
    /// Not a valid protobuf message (400).
    Malformed,
    /// Valid, but with a kind or field this decoder does not read (415).
    Unsupported,
}

type Decoded<T> = Result<T, Problem>;

/// A protobuf wire value.
enum Wire<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

impl Wire<'_> {
    /// Is this the encoding of a zero value (0, "", an empty message or one of zero fields)?
    fn is_default(&self, depth: usize) -> bool {
        match self {
            Wire::Varint(v) => *v == 0,
            Wire::Bytes(b) => b.is_empty() || all_default(b, depth + 1),
        }
    }
}

/// Is `bytes` a message whose fields all hold zero values? (A string never parses so by
/// chance: its first byte would have to be a field key of a zero value.)
fn all_default(bytes: &[u8], depth: usize) -> bool {
    if depth > MAX_DEPTH {
        return false;
    }
    let mut reader = Reader { bytes };
    loop {
        match reader.next() {
            Ok(None) => return true,
            Ok(Some((_, wire))) if wire.is_default(depth) => {}
            _ => return false,
        }
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Decoded<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = self.bytes.split_first().ok_or(Problem::Malformed)?;
            self.bytes = rest;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(Problem::Malformed)
    }

    fn next(&mut self) -> Decoded<Option<(u64, Wire<'a>)>> {
        if self.bytes.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let wire = match key & 7 {
            0 => Wire::Varint(self.varint()?),
            2 => {
                let len = usize::try_from(self.varint()?).map_err(|_| Problem::Malformed)?;
                Wire::Bytes(self.take(len)?)
            }
            1 => Wire::Bytes(self.take(8)?),
            5 => Wire::Bytes(self.take(4)?),
            _ => return Err(Problem::Malformed),
        };
        Ok(Some((key >> 3, wire)))
    }

    fn take(&mut self, n: usize) -> Decoded<&'a [u8]> {
        if n > self.bytes.len() {
            return Err(Problem::Malformed);
        }
        let (value, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(value)
    }
}

fn text(bytes: &[u8]) -> Decoded<String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| Problem::Malformed)
}

/// A map entry message: key = 1, value = 2.
fn entry(bytes: &[u8]) -> Decoded<(String, &[u8])> {
    let mut reader = Reader { bytes };
    let (mut key, mut value) = (String::new(), &[][..]);
    while let Some((number, wire)) = reader.next()? {
        match (number, wire) {
            (1, Wire::Bytes(b)) => key = text(b)?,
            (2, Wire::Bytes(b)) => value = b,
            _ => {}
        }
    }
    Ok((key, value))
}

/// `resource.Quantity`: `{string = 1}`.
fn quantity(bytes: &[u8]) -> Decoded<Value> {
    let mut reader = Reader { bytes };
    let mut out = String::new();
    while let Some((number, wire)) = reader.next()? {
        if let (1, Wire::Bytes(b)) = (number, wire) {
            out = text(b)?;
        }
    }
    Ok(Value::String(out))
}

/// `intstr.IntOrString`: `{type = 1 (0 int, 1 string), intVal = 2, strVal = 3}`.
fn int_or_string(bytes: &[u8]) -> Decoded<Value> {
    let mut reader = Reader { bytes };
    let (mut is_string, mut int, mut string) = (false, 0_i64, String::new());
    while let Some((number, wire)) = reader.next()? {
        match (number, wire) {
            (1, Wire::Varint(v)) => is_string = v == 1,
            // int32 on the wire: negative values are sign-extended to 64 bits.
            (2, Wire::Varint(v)) => int = i64::from(v as i32),
            (3, Wire::Bytes(b)) => string = text(b)?,
            _ => return Err(Problem::Malformed),
        }
    }
    Ok(if is_string {
        Value::String(string)
    } else {
        Value::from(int)
    })
}

fn message(bytes: &[u8], fields: &[Field], depth: usize) -> Decoded<Map<String, Value>> {
    if depth > MAX_DEPTH {
        return Err(Problem::Malformed);
    }
    let mut out = Map::new();
    let mut reader = Reader { bytes };
    while let Some((number, wire)) = reader.next()? {
        let Some(field) = fields.iter().find(|f| f.number == number) else {
            // A field this decoder does not know: fine while it holds nothing.
            if wire.is_default(depth) {
                continue;
            }
            return Err(Problem::Unsupported);
        };
        let value = match (field.ty, wire) {
            (Ty::Ignore, _) => continue,
            (Ty::Str, Wire::Bytes(b)) => Value::String(text(b)?),
            // Integers are int32/int64 on the wire: the two's complement of a negative one.
            (Ty::Int | Ty::OptInt, Wire::Varint(v)) => Value::from(v as i64),
            (Ty::Flag | Ty::Bool, Wire::Varint(v)) => Value::Bool(v != 0),
            (Ty::IntOrString, Wire::Bytes(b)) => int_or_string(b)?,
            (Ty::StrMap | Ty::BytesMap | Ty::QuantityMap, Wire::Bytes(b)) => {
                let (key, raw) = entry(b)?;
                let value = match field.ty {
                    Ty::StrMap => Value::String(text(raw)?),
                    Ty::QuantityMap => quantity(raw)?,
                    _ => Value::String(STANDARD.encode(raw)),
                };
                let map = out
                    .entry(field.name)
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Some(map) = map.as_object_mut() {
                    map.insert(key, value);
                }
                continue;
            }
            (Ty::Msg(inner), Wire::Bytes(b)) => Value::Object(message(b, inner, depth + 1)?),
            (Ty::Inline(inner), Wire::Bytes(b)) => {
                out.extend(message(b, inner, depth + 1)?);
                continue;
            }
            _ => return Err(Problem::Malformed),
        };
        if field.repeated {
            let list = out
                .entry(field.name)
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Some(list) = list.as_array_mut() {
                list.push(value);
            }
            continue;
        }
        // Zero values of non-pointer fields are what JSON leaves out.
        let unset = match field.ty {
            Ty::Str => value.as_str() == Some(""),
            Ty::Int => value.as_i64() == Some(0),
            Ty::Flag => value.as_bool() == Some(false),
            Ty::Msg(_) => value.as_object().is_some_and(Map::is_empty),
            _ => false,
        };
        if !unset {
            out.insert(field.name.to_owned(), value);
        }
    }
    Ok(out)
}

/// Decodes a protobuf body into the JSON object it encodes; `accepted` are the media types a
/// 415 names.
pub fn decode(body: &[u8], accepted: &[&str]) -> Result<Value, ApiError> {
    decode_body(body).map_err(|problem| match problem {
        Problem::Malformed => {
            ApiError::bad_request("the body of the request is not a valid protobuf message")
        }
        Problem::Unsupported => {
            ApiError::unsupported_media_type("application/vnd.kubernetes.protobuf", accepted)
        }
    })
}

fn decode_body(body: &[u8]) -> Decoded<Value> {
    let rest = body.strip_prefix(MAGIC).ok_or(Problem::Malformed)?;
    let mut reader = Reader { bytes: rest };
    let (mut type_meta, mut raw) = (Map::new(), &[][..]);
    while let Some((number, wire)) = reader.next()? {
        match (number, wire) {
            (1, Wire::Bytes(b)) => type_meta = message(b, kinds::TYPE_META, 0)?,
            (2, Wire::Bytes(b)) => raw = b,
            _ => {}
        }
    }
    let api_version = type_meta
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let kind = type_meta
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let fields = kinds::schema(api_version, kind).ok_or(Problem::Unsupported)?;
    let mut object = message(raw, fields, 0)?;
    object.insert(
        "apiVersion".to_owned(),
        Value::String(api_version.to_owned()),
    );
    object.insert("kind".to_owned(), Value::String(kind.to_owned()));
    Ok(Value::Object(object))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn decodes_kubectl_create_namespace() {
        // What kubectl 1.32 sends for `kubectl create namespace csa`.
        let body: &[u8] = &[
            0x6b, 0x38, 0x73, 0x00, 0x0a, 0x0f, 0x0a, 0x02, 0x76, 0x31, 0x12, 0x09, 0x4e, 0x61,
            0x6d, 0x65, 0x73, 0x70, 0x61, 0x63, 0x65, 0x12, 0x1b, 0x0a, 0x13, 0x0a, 0x03, 0x63,
            0x73, 0x61, 0x12, 0x00, 0x1a, 0x00, 0x22, 0x00, 0x2a, 0x00, 0x32, 0x00, 0x38, 0x00,
            0x42, 0x00, 0x12, 0x00, 0x1a, 0x02, 0x0a, 0x00, 0x1a, 0x00, 0x22, 0x00,
        ];
        let object = decode(body, &[]).unwrap_or_default();
        assert_eq!(
            object,
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "csa"}})
        );
    }

    #[test]
    fn unknown_kinds_are_415() {
        let body = b"k8s\x00\x0a\x16\x0a\x07apps/v1\x12\x0bStatefulSet";
        assert_eq!(decode(body, &[]).err().map(|e| e.code.as_u16()), Some(415));
    }

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    // The bodies below are what kubectl 1.33 sends (captured with `kubectl -v=9`).

    #[test]
    fn decodes_kubectl_create_deployment() {
        // kubectl create deployment web --image=nginx:1.27 --port=80 --replicas=2 -- /bin/sh -c "echo hi"
        let body = hex(
            "6b3873000a150a07617070732f7631120a4465706c6f796d656e7412d4010a1f0a0377656212001a0022002a003200380042005a0a0a03617070120377656212a2010802120c0a0a0a0361707012037765621a87010a1c0a0012001a0022002a003200380042005a0a0a036170701203776562126712490a056e67696e78120a6e67696e783a312e32371a072f62696e2f73681a022d631a076563686f2068692a00320a0a001000185022002a0042006a007200800100880100900100a201001a00320042004a0052005800600068008201008a01009a0100c2010022020a00280038001a0c0800100018002000280038001a002200",
        );
        assert_eq!(
            decode(&body, &[]).unwrap(),
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "web", "labels": {"app": "web"}},
                "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}},
                        "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27",
                            "command": ["/bin/sh", "-c", "echo hi"], "ports": [{"containerPort": 80}]}]}}}})
        );
    }

    #[test]
    fn decodes_kubectl_create_service_with_a_named_target_port() {
        // kubectl create service loadbalancer s3 --tcp=443:https
        let body = hex(
            "6b3873000a0d0a02763112075365727669636512700a1d0a02733312001a0022002a003200380042005a090a0361707012027333124b0a220a093434332d6874747073120354435018bb03220b080110001a056874747073280012090a03617070120273331a00220c4c6f616442616c616e6365723a00420052005a00600068001a020a001a002200",
        );
        assert_eq!(
            decode(&body, &[]).unwrap(),
            json!({"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": "s3", "labels": {"app": "s3"}},
                "spec": {"ports": [{"name": "443-https", "protocol": "TCP", "port": 443, "targetPort": "https"}],
                    "selector": {"app": "s3"}, "type": "LoadBalancer"}})
        );
    }

    #[test]
    fn decodes_kubectl_create_job_and_cronjob() {
        // kubectl create job j1 --image=busybox:1.36 -- echo hi
        let job = hex(
            "6b3873000a0f0a0862617463682f763112034a6f621289010a120a026a3112001a0022002a00320038004200126932670a100a0012001a0022002a00320038004200125312300a026a31120c62757379626f783a312e33361a046563686f1a0268692a0042006a007200800100880100900100a201001a054e65766572320042004a0052005800600068008201008a01009a0100c201001a082000280030003a001a002200",
        );
        let pod = json!({"containers": [{"name": "j1", "image": "busybox:1.36", "command": ["echo", "hi"]}], "restartPolicy": "Never"});
        assert_eq!(
            decode(&job, &[]).unwrap(),
            json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j1"},
                "spec": {"template": {"spec": pod}}})
        );
        // kubectl create cronjob c1 --image=busybox:1.36 --schedule="*/5 * * * *" --restart=OnFailure -- echo hi
        let cronjob = hex(
            "6b3873000a130a0862617463682f7631120743726f6e4a6f6212ae010a120a02633112001a0022002a003200380042001295010a0b2a2f35202a202a202a202a1a002a83010a120a02633112001a0022002a00320038004200126d326b0a100a0012001a0022002a00320038004200125712300a026331120c62757379626f783a312e33361a046563686f1a0268692a0042006a007200800100880100900100a201001a094f6e4661696c757265320042004a0052005800600068008201008a01009a0100c201001a001a002200",
        );
        let decoded = decode(&cronjob, &[]).unwrap();
        assert_eq!(decoded["spec"]["schedule"], "*/5 * * * *");
        assert_eq!(decoded["spec"]["jobTemplate"]["metadata"]["name"], "c1");
        assert_eq!(
            decoded["spec"]["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"],
            "OnFailure"
        );
    }

    #[test]
    fn decodes_kubectl_create_role_and_ingress() {
        // kubectl create role r1 --verb=get,list --resource=pods,deployments.apps --resource-name=x
        let role = hex(
            "6b3873000a240a1c726261632e617574686f72697a6174696f6e2e6b38732e696f2f76311204526f6c65124f0a120a02723112001a0022002a0032003800420012160a036765740a046c69737412001a04706f647322017812210a036765740a046c6973741204617070731a0b6465706c6f796d656e74732201781a002200",
        );
        assert_eq!(
            decode(&role, &[]).unwrap()["rules"],
            json!([{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"], "resourceNames": ["x"]},
                {"verbs": ["get", "list"], "apiGroups": ["apps"], "resources": ["deployments"], "resourceNames": ["x"]}])
        );
        // kubectl create ingress i1 --rule="foo.com/bar=svc1:8080,tls=secret1" --class=nginx
        let ingress = hex(
            "6b3873000a1f0a146e6574776f726b696e672e6b38732e696f2f76311207496e677265737312640a120a02693112001a0022002a00320038004200124a12120a07666f6f2e636f6d1207736563726574311a2d0a07666f6f2e636f6d12220a200a1e0a042f626172120f220d0a047376633112050a0010903f1a05457861637422056e67696e781a020a001a002200",
        );
        assert_eq!(
            decode(&ingress, &[]).unwrap()["spec"],
            json!({"tls": [{"hosts": ["foo.com"], "secretName": "secret1"}],
                "rules": [{"host": "foo.com", "http": {"paths": [{"path": "/bar", "pathType": "Exact",
                    "backend": {"service": {"name": "svc1", "port": {"number": 8080}}}}]}}],
                "ingressClassName": "nginx"})
        );
    }

    #[test]
    fn decodes_kubectl_autoscale() {
        // kubectl autoscale deployment made --min=2 --max=5 --cpu-percent=80
        let body = hex(
            "6b3873000a290a0e6175746f7363616c696e672f76321217486f72697a6f6e74616c506f644175746f7363616c657212630a140a046d61646512001a0022002a0032003800420012450a1b0a0a4465706c6f796d656e7412046d6164651a07617070732f76311002180522220a085265736f7572636522160a03637075120f0a0b5574696c697a6174696f6e20501a04180020001a002200",
        );
        assert_eq!(
            decode(&body, &[]).unwrap()["spec"],
            json!({"scaleTargetRef": {"kind": "Deployment", "name": "made", "apiVersion": "apps/v1"},
                "minReplicas": 2, "maxReplicas": 5,
                "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 80}}}]})
        );
    }

    #[test]
    fn a_field_with_a_value_the_table_does_not_name_is_415_and_an_empty_one_is_skipped() {
        // A ConfigMap {metadata: {name: "a"}} with field 9 (not a ConfigMap field) added.
        let with = |extra: &[u8]| {
            let mut raw = vec![0x0a, 0x03, 0x0a, 0x01, b'a'];
            raw.extend_from_slice(extra);
            let mut body = b"k8s\x00\x0a\x0f\x0a\x02v1\x12\x09ConfigMap\x12".to_vec();
            body.push(u8::try_from(raw.len()).unwrap());
            body.extend(raw);
            decode(&body, &["application/json"])
        };
        assert_eq!(
            with(&[0x4a, 0x00]).unwrap(),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}})
        );
        let refused = with(&[0x4a, 0x01, b'x']).unwrap_err();
        assert_eq!(
            (refused.code.as_u16(), refused.reason),
            (415, "UnsupportedMediaType")
        );
        assert_eq!(
            with(&[0x4a, 0x05]).unwrap_err().code.as_u16(),
            400,
            "truncated"
        );
    }
}
