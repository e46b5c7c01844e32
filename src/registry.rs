//! The component registry: every factory compiled into oispd, as data.
//! `oispd components` prints it; validation and the pipeline builder look
//! types up here (aliases included).

use oispd_component::{
    ComponentInfo, ConfigError, ConnectorFactory, ExporterFactory, ExtensionFactory, Kind,
    ProcessorFactory, ReceiverFactory,
};
use serde_yaml_ng::Value;

/// All factories, by kind.
pub struct Registry {
    /// Receiver factories.
    pub receivers: Vec<Box<dyn ReceiverFactory>>,
    /// Processor factories.
    pub processors: Vec<Box<dyn ProcessorFactory>>,
    /// Exporter factories.
    pub exporters: Vec<Box<dyn ExporterFactory>>,
    /// Connector factories.
    pub connectors: Vec<Box<dyn ConnectorFactory>>,
    /// Extension factories.
    pub extensions: Vec<Box<dyn ExtensionFactory>>,
}

fn matches(info: &ComponentInfo, type_name: &str) -> bool {
    info.type_name == type_name || info.aliases.contains(&type_name)
}

fn find<'a, F: ?Sized>(
    list: &'a [Box<F>],
    info: impl Fn(&F) -> ComponentInfo,
    type_name: &str,
) -> Option<&'a F> {
    list.iter()
        .map(|b| b.as_ref())
        .find(|f| matches(&info(f), type_name))
}

impl Registry {
    /// Every component compiled into this binary.
    pub fn builtin() -> Registry {
        Registry {
            receivers: oispd_receiver::receiver_factories(),
            processors: oispd_processors::processor_factories(),
            exporters: oispd_exporters::exporter_factories(),
            connectors: oispd_processors::connector_factories(),
            extensions: vec![
                Box::new(crate::admin::AdminFactory),
                Box::new(oispd_exporters::file_storage::FileStorageFactory),
            ],
        }
    }

    /// The receiver factory for `type_name`.
    pub fn receiver(&self, type_name: &str) -> Option<&dyn ReceiverFactory> {
        find(&self.receivers, |f| f.info(), type_name)
    }

    /// The processor factory for `type_name`.
    pub fn processor(&self, type_name: &str) -> Option<&dyn ProcessorFactory> {
        find(&self.processors, |f| f.info(), type_name)
    }

    /// The exporter factory for `type_name`.
    pub fn exporter(&self, type_name: &str) -> Option<&dyn ExporterFactory> {
        find(&self.exporters, |f| f.info(), type_name)
    }

    /// The connector factory for `type_name`.
    pub fn connector(&self, type_name: &str) -> Option<&dyn ConnectorFactory> {
        find(&self.connectors, |f| f.info(), type_name)
    }

    /// The extension factory for `type_name`.
    pub fn extension(&self, type_name: &str) -> Option<&dyn ExtensionFactory> {
        find(&self.extensions, |f| f.info(), type_name)
    }

    /// Descriptions of every type of `kind`.
    pub fn infos(&self, kind: Kind) -> Vec<ComponentInfo> {
        let mut infos: Vec<ComponentInfo> = match kind {
            Kind::Receiver => self.receivers.iter().map(|f| f.info()).collect(),
            Kind::Processor => self.processors.iter().map(|f| f.info()).collect(),
            Kind::Exporter => self.exporters.iter().map(|f| f.info()).collect(),
            Kind::Connector => self.connectors.iter().map(|f| f.info()).collect(),
            Kind::Extension => self.extensions.iter().map(|f| f.info()).collect(),
        };
        infos.sort_by_key(|i| i.type_name);
        infos
    }

    /// Validates `body` for a component of `kind`/`type_name`; `None` when
    /// no such type exists.
    pub fn validate_body(
        &self,
        kind: Kind,
        type_name: &str,
        body: &Value,
    ) -> Option<Result<(), Vec<ConfigError>>> {
        match kind {
            Kind::Receiver => self.receiver(type_name).map(|f| f.validate(body)),
            Kind::Processor => self.processor(type_name).map(|f| f.validate(body)),
            Kind::Exporter => self.exporter(type_name).map(|f| f.validate(body)),
            Kind::Connector => self.connector(type_name).map(|f| f.validate(body)),
            Kind::Extension => self.extension(type_name).map(|f| f.validate(body)),
        }
    }

    /// `oispd components`: every type by kind, with stability and signals.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        for kind in crate::config::KINDS {
            out.push_str(kind.section());
            out.push_str(":\n");
            for info in self.infos(kind) {
                let signals: Vec<&str> = info.signals.iter().map(|s| s.as_str()).collect();
                out.push_str(&format!(
                    "  - name: {}\n    stability: {}\n    signals: [{}]\n",
                    info.type_name,
                    info.stability.as_str(),
                    signals.join(", ")
                ));
                if !info.aliases.is_empty() {
                    out.push_str(&format!("    aliases: [{}]\n", info.aliases.join(", ")));
                }
                out.push_str(&format!("    description: {}\n", info.description));
            }
        }
        out
    }
}
